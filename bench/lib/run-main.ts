/** How a bench script runs its `main`: kept alive while it waits, exit code from the run, stack on failure. */

export function runMain(main: () => Promise<void>): void {
  // The helpers' timers are unref'd (realClock): without this, a wait with no child
  // process running would let Node exit in the middle of the bench.
  const keepAlive = setInterval(() => undefined, 60_000);
  main().then(
    () => {
      clearInterval(keepAlive);
      process.exit(process.exitCode ?? 0);
    },
    (err: unknown) => {
      console.error(err instanceof Error ? err.stack ?? err.message : String(err));
      process.exit(1);
    },
  );
}
