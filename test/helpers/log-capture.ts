/** A real pino logger whose JSON lines a test can read back. */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { Logger } from '../../src/util/log.js';

export interface CapturedLog {
  log: Logger;
  /** Every record so far, parsed. */
  records(): Record<string, unknown>[];
}

export function captureLog(level = 'info'): CapturedLog {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  return {
    log: pino({ level }, sink),
    records: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}
