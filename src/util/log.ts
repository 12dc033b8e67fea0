/**
 * The logger every layer takes. One pino logger is made in the composition
 * root (cli/) and handed down as child loggers (per layer, per call); code
 * given none logs nowhere, so library use and unit tests stay quiet.
 */
import { pino, type Logger } from 'pino';

export type { Logger };

export const silentLogger: Logger = pino({ level: 'silent' });

/**
 * Gives a promise nobody awaits an owner: its rejection is logged with what
 * was being done, never left to become an unhandled rejection.
 */
export function detach(p: Promise<unknown>, log: Logger, what: string, context?: Record<string, unknown>): void {
  p.catch((err: unknown) => log.error({ ...context, err }, `${what} failed`));
}
