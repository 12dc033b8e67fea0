/**
 * Messages from a child process (a load generator, an RTP probe), taken one
 * at a time in order with a deadline: a message of another type than the one
 * expected, an `error` message, or the child's exit fails the wait.
 */
import type { ChildProcess } from 'node:child_process';

export class ChildInbox<M extends { type: string }> {
  private readonly queue: (M | { type: 'error'; message: string })[] = [];
  private waiter: (() => void) | undefined;

  /** `who` names the child in errors ("load generator", "RTP probe"). */
  constructor(
    child: ChildProcess,
    private readonly who: string,
  ) {
    child.on('message', (m: M) => this.push(m));
    child.on('exit', (code) => this.push({ type: 'error', message: `the ${who} exited (${code})` }));
  }

  async next<T extends M['type']>(type: T, timeoutMs: number): Promise<Extract<M, { type: T }>> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const m = this.queue.shift();
      if (m) {
        if (m.type === 'error') throw new Error(`${this.who}: ${(m as { message?: string }).message ?? 'failed'}`);
        if (m.type !== type) throw new Error(`${this.who} said ${m.type}, expected ${type}`);
        return m as Extract<M, { type: T }>;
      }
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`${this.who}: no ${type} within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.waiter = undefined;
    }
  }

  private push(m: M | { type: 'error'; message: string }): void {
    this.queue.push(m);
    this.waiter?.();
  }
}
