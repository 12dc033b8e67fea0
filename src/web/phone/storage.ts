/**
 * What the phone keeps in the browser (localStorage): the account settings and
 * the call log. The password is kept only when the user ticks "Remember
 * password"; unticking it removes a stored one.
 */

const SETTINGS_KEY = 'switchboard.phone.settings';
const LOG_KEY = 'switchboard.phone.calls';
export const CALL_LOG_LIMIT = 50;

export interface Settings {
  user: string;
  server: string;
  password?: string;
}

export interface CallLogEntry {
  direction: 'incoming' | 'outgoing';
  number: string;
  /** ISO 8601 start time. */
  start: string;
  /** Seconds talked; 0 for a call never answered. */
  durationS: number;
  /** answered, missed, declined, cancelled, or "failed: REASON". */
  result: string;
}

function read(key: string): unknown {
  try {
    const raw = localStorage.getItem(key);
    return raw === null ? undefined : (JSON.parse(raw) as unknown);
  } catch {
    // Storage disabled (private mode) or a value another version wrote: start afresh.
    return undefined;
  }
}

function write(key: string, value: unknown): void {
  try {
    localStorage.setItem(key, JSON.stringify(value));
  } catch {
    // Full or disabled storage only costs the user the convenience.
  }
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

export function loadSettings(): Partial<Settings> {
  const v = read(SETTINGS_KEY);
  if (typeof v !== 'object' || v === null) return {};
  const o = v as Record<string, unknown>;
  return { user: str(o.user), server: str(o.server), password: str(o.password) };
}

export function saveSettings(s: Settings): void {
  const out: Settings = { user: s.user, server: s.server };
  if (s.password !== undefined) out.password = s.password;
  write(SETTINGS_KEY, out);
}

function isEntry(v: unknown): v is CallLogEntry {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Record<string, unknown>;
  return (
    (o.direction === 'incoming' || o.direction === 'outgoing') &&
    typeof o.number === 'string' &&
    typeof o.start === 'string' &&
    typeof o.durationS === 'number' &&
    typeof o.result === 'string'
  );
}

/** Newest first. */
export function loadCallLog(): CallLogEntry[] {
  const v = read(LOG_KEY);
  return Array.isArray(v) ? v.filter(isEntry).slice(0, CALL_LOG_LIMIT) : [];
}

export function addCallLog(entry: CallLogEntry): CallLogEntry[] {
  const log = [entry, ...loadCallLog()].slice(0, CALL_LOG_LIMIT);
  write(LOG_KEY, log);
  return log;
}

export function clearCallLog(): void {
  try {
    localStorage.removeItem(LOG_KEY);
  } catch {
    // nothing stored, nothing to clear
  }
}
