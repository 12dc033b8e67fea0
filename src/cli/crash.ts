/**
 * Last-resort handlers for `serve`: a bug that escapes every request's own
 * error handling is logged with its stack and counted, and the server keeps
 * serving the calls and phones that were not part of it.
 */
import type { Logger } from '../util/log.js';

export interface CrashCounter {
  uncaught: number;
}

export function installCrashHandlers(log: Logger, counter: CrashCounter): () => void {
  const onRejection = (reason: unknown): void => {
    counter.uncaught++;
    log.error({ err: reason, kind: 'unhandledRejection' }, 'a promise failed with nobody to handle it (a bug: please report it); still serving');
  };
  const onException = (err: Error, origin: string): void => {
    counter.uncaught++;
    log.error({ err, kind: origin }, 'an error escaped every handler (a bug: please report it); still serving');
  };
  process.on('unhandledRejection', onRejection);
  process.on('uncaughtException', onException);
  return () => {
    process.off('unhandledRejection', onRejection);
    process.off('uncaughtException', onException);
  };
}
