/** `enqueue`: the caller waits in a queue; after max_wait the queue's `after` verbs run. */
import type { CallQueue } from '../../pbx/queue.js';
import { HANGUP, NEXT, type Flow } from '../engine.js';
import type { AppHandler } from '../services.js';
import type { Step } from '../verbs.js';

export function enqueueApp(queues: ReadonlyMap<string, CallQueue>, afterSteps: (queue: string) => readonly Step[]): AppHandler {
  return async (script, verb): Promise<Flow> => {
    if (verb.verb !== 'enqueue') return NEXT;
    const ch = script.channel;
    const q = queues.get(script.sub(verb.queue));
    if (!q) {
      script.services.log.warn({ queue: verb.queue, callId: ch.call.callId }, 'enqueue: no such queue; going on with the next verb');
      return NEXT;
    }
    if (!(await ch.answer())) return HANGUP;
    script.waited();
    const result = await q.join(ch);
    script.vars.set('QUEUESTATUS', result.toUpperCase());
    if (result === 'answered') {
      await ch.whenEnded();
      return HANGUP;
    }
    if (result === 'abandoned' || ch.ended) return HANGUP;
    for (const step of afterSteps(q.name)) {
      ch.lastApp = step.verb;
      const flow = await script.exec(step);
      if (!('next' in flow)) return flow;
    }
    return NEXT;
  };
}
