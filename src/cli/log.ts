/**
 * The one logger of a process, made here in the composition root and handed
 * down: JSON lines (pino) when the output is a file or a pipe, so log
 * shippers read them as they are; readable coloured lines on a terminal.
 */
import { pino, type DestinationStream } from 'pino';
import { PinoPretty } from 'pino-pretty';
import type { LogLevel } from '../config/schema.js';
import type { Logger } from '../util/log.js';

export interface LoggerOptions {
  level: LogLevel;
  /** File descriptor to write to: 1 (stdout, the default) or 2 (stderr). */
  fd?: 1 | 2;
  /** Readable lines instead of JSON; by default when the descriptor is a terminal. */
  pretty?: boolean;
}

export function createLogger(opts: LoggerOptions): Logger {
  const fd = opts.fd ?? 1;
  const stream = fd === 1 ? process.stdout : process.stderr;
  const pretty = opts.pretty ?? stream.isTTY === true;
  const dest: DestinationStream = pretty
    ? PinoPretty({ destination: fd, sync: true, colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname', singleLine: true })
    : pino.destination({ dest: fd, sync: false });
  return pino(
    {
      level: opts.level,
      // Level names and ISO times read well in a file and parse as easily as numbers.
      formatters: { level: (label) => ({ level: label }) },
      timestamp: pino.stdTimeFunctions.isoTime,
      base: { pid: process.pid },
    },
    dest,
  );
}
