/**
 * Variable substitution in verb arguments, as Asterisk writes it:
 * `${EXTEN}`, `${EXTEN:1}` (from the second character), `${EXTEN:-4}` (the
 * last four), `${EXTEN:1:3}` (three from the second; a negative length
 * leaves that many off the end), `${CALLERID}` (the caller's number, the
 * same as `${CALLERID(num)}`), `${CALLERID(name)}`, and any variable the
 * lookup knows. Unknown variables are empty, as in Asterisk.
 */

/** Returns a variable's value (`EXTEN`, `CALLERID(num)`, `QUEUE_RESULT` ...), or undefined when it is not set. */
export type VarLookup = (name: string) => string | undefined;

const REFERENCE = /\$\{([A-Za-z_][A-Za-z0-9_]*(?:\([A-Za-z0-9_,. -]*\))?)(?::(-?\d+)(?::(-?\d+))?)?\}/g;
const ONE_REFERENCE = new RegExp(`^${REFERENCE.source}$`);

/** Whether a text holds a `${...}` reference: its value is only known when the call runs. */
export function hasVariables(text: string): boolean {
  return text.includes('${');
}

/** `value` cut the way `${VAR:offset:length}` cuts it. */
export function slice(value: string, offset: number, length?: number): string {
  const n = value.length;
  const start = offset < 0 ? Math.max(0, n + offset) : Math.min(offset, n);
  let end = n;
  if (length !== undefined) end = length < 0 ? Math.max(start, n + length) : Math.min(n, start + length);
  return value.slice(start, end);
}

function valueOf(name: string, lookup: VarLookup): string {
  if (name === 'CALLERID') return lookup('CALLERID(num)') ?? lookup('CALLERID') ?? '';
  if (name === 'CALLERID(number)') return lookup('CALLERID(num)') ?? '';
  return lookup(name) ?? '';
}

export function substitute(text: string, lookup: VarLookup): string {
  if (!hasVariables(text)) return text;
  return text.replace(REFERENCE, (_all, name: string, offset?: string, length?: string) => {
    const value = valueOf(name, lookup);
    return offset === undefined ? value : slice(value, Number(offset), length === undefined ? undefined : Number(length));
  });
}

/** A lookup over fixed values (a Map or a plain object). */
export function lookupIn(vars: ReadonlyMap<string, string> | Readonly<Record<string, string>>): VarLookup {
  if (vars instanceof Map) return (name) => vars.get(name);
  const rec = vars as Readonly<Record<string, string>>;
  return (name) => (Object.prototype.hasOwnProperty.call(rec, name) ? rec[name] : undefined);
}

/** Why a text's `${...}` references are malformed, or undefined when they are fine (checked when the dialplan loads). */
export function checkReferences(text: string): string | undefined {
  let at = text.indexOf('${');
  while (at >= 0) {
    const close = text.indexOf('}', at);
    if (close < 0) return `"${text.slice(at)}" has no closing }`;
    const ref = text.slice(at, close + 1);
    if (!ONE_REFERENCE.test(ref)) {
      return `"${ref}" is not a variable reference; write \${NAME}, \${NAME:offset} or \${NAME:offset:length}, e.g. \${EXTEN:1}`;
    }
    at = text.indexOf('${', close + 1);
  }
  return undefined;
}
