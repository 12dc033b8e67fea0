/**
 * Last-resort handlers for `serve`: a bug that escapes every request's own
 * error handling is logged with its stack and counted, and the server keeps
 * serving the calls and phones that were not part of it.
 */
import type { EventEmitter } from 'node:events';
import type { Logger } from '../util/log.js';

export interface CrashCounter {
  uncaught: number;
}

/** `on` is the process, or in a test an emitter standing in for it. */
export function installCrashHandlers(log: Logger, counter: CrashCounter, on: EventEmitter = process): () => void {
  const onRejection = (reason: unknown): void => {
    counter.uncaught++;
    log.error({ err: reason, kind: 'unhandledRejection' }, 'a promise failed with nobody to handle it (a bug: please report it); still serving');
  };
  const onException = (err: Error, origin: string): void => {
    counter.uncaught++;
    log.error({ err, kind: origin }, 'an error escaped every handler (a bug: please report it); still serving');
  };
  on.on('unhandledRejection', onRejection);
  on.on('uncaughtException', onException);
  return () => {
    on.off('unhandledRejection', onRejection);
    on.off('uncaughtException', onException);
  };
}
