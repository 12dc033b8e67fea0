/**
 * Asterisk extension patterns. An extension is either exact (`500`, `*98`,
 * `s`) or a pattern starting with `_`: `X` any digit, `Z` 1-9, `N` 2-9,
 * `[1-5]` / `[a-c,7]` a set, `.` one or more of anything, `!` zero or more
 * (both only at the end); `-` is ignored as in Asterisk (`_1-800-NXX-XXXX`).
 * Other characters stand for themselves.
 *
 * When several extensions match, the most specific wins, as in Asterisk:
 * an exact extension beats every pattern; between patterns the first
 * position where they differ decides, the one allowing fewer characters
 * there winning (a character, then smaller sets: `[1-5]` before `N` before
 * `Z` before `X`), `.` and then `!` last; a pattern that ends beats one
 * that goes on.
 */

export class PatternError extends Error {
  override readonly name = 'PatternError';
}

type Token =
  /** One position: the characters it accepts, sorted. */
  | { kind: 'set'; chars: string }
  /** `.` (min 1) or `!` (min 0): the rest of the number. */
  | { kind: 'rest'; min: 0 | 1 };

export interface Pattern {
  /** As written: `_1XXX`, `500`. */
  readonly text: string;
  /** No leading `_`: matched by equality. */
  readonly exact: boolean;
  readonly tokens: readonly Token[];
}

const DIGITS = '0123456789';
const WILDCARDS: Record<string, string> = { X: DIGITS, Z: DIGITS.slice(1), N: DIGITS.slice(2) };
const LITERAL = /^[A-Za-z0-9*#+]$/;
const HELP = 'patterns start with _ and hold digits, * # +, X (0-9), Z (1-9), N (2-9), sets such as [1-5] or [a-c,7], and . or ! at the end';

function sortedChars(chars: Iterable<string>): string {
  return [...new Set(chars)].sort().join('');
}

function parseSet(text: string, open: number): { chars: string; end: number } {
  const close = text.indexOf(']', open);
  if (close < 0) throw new PatternError(`"${text}": the set opened at position ${open + 1} has no closing ]`);
  const body = text.slice(open + 1, close);
  const chars: string[] = [];
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (c === ',') continue;
    if (c === '[') throw new PatternError(`"${text}": sets cannot be nested`);
    if (!LITERAL.test(c)) throw new PatternError(`"${text}": "${c}" cannot be in a set; ${HELP}`);
    if (body[i + 1] === '-' && i + 2 < body.length) {
      const to = body[i + 2];
      if (!LITERAL.test(to)) throw new PatternError(`"${text}": "${c}-${to}" is not a range`);
      if (to < c) throw new PatternError(`"${text}": the range ${c}-${to} runs backwards; write ${to}-${c}`);
      for (let code = c.charCodeAt(0); code <= to.charCodeAt(0); code++) chars.push(String.fromCharCode(code));
      i += 2;
    } else {
      chars.push(c);
    }
  }
  if (chars.length === 0) throw new PatternError(`"${text}": the set [${body}] is empty`);
  return { chars: sortedChars(chars), end: close };
}

/** Parses an extension as written in the dialplan; throws PatternError saying what is wrong. */
export function parsePattern(text: string): Pattern {
  if (text.length === 0) throw new PatternError('an extension cannot be empty');
  if (!text.startsWith('_')) {
    if (!/^[A-Za-z0-9*#+-]+$/.test(text)) {
      throw new PatternError(`"${text}": an exact extension holds letters, digits, * # + and - only (a pattern starts with _)`);
    }
    return { text, exact: true, tokens: [] };
  }
  if (text.includes('/')) throw new PatternError(`"${text}": matching on the caller's number (/...) is not supported; use a context per caller instead`);
  const tokens: Token[] = [];
  for (let i = 1; i < text.length; i++) {
    const c = text[i];
    if (tokens.length && tokens[tokens.length - 1].kind === 'rest') {
      throw new PatternError(`"${text}": ${text[i - 1] === '!' ? '!' : '.'} matches the rest of the number, so it must come last`);
    }
    if (c === '-') continue;
    if (c === '.' || c === '!') tokens.push({ kind: 'rest', min: c === '.' ? 1 : 0 });
    else if (c === '[') {
      const set = parseSet(text, i);
      tokens.push({ kind: 'set', chars: set.chars });
      i = set.end;
    } else if (WILDCARDS[c.toUpperCase()]) tokens.push({ kind: 'set', chars: WILDCARDS[c.toUpperCase()] });
    else if (LITERAL.test(c)) tokens.push({ kind: 'set', chars: c });
    else throw new PatternError(`"${text}": "${c}" cannot be in a pattern; ${HELP}`);
  }
  if (tokens.length === 0) throw new PatternError(`"${text}": nothing after the _; ${HELP}`);
  return { text, exact: false, tokens };
}

/** Whether `exten` is matched by the extension `p`. */
export function matches(p: Pattern, exten: string): boolean {
  if (p.exact) return p.text === exten;
  const t = p.tokens;
  for (let i = 0; i < t.length; i++) {
    const tok = t[i];
    if (tok.kind === 'rest') return exten.length - i >= tok.min;
    if (i >= exten.length || !tok.chars.includes(exten[i])) return false;
  }
  return exten.length === t.length;
}

/** Whether some number longer than `prefix` and starting with it is matched by `p`. */
export function canMatchLonger(p: Pattern, prefix: string): boolean {
  if (p.exact) return p.text.length > prefix.length && p.text.startsWith(prefix);
  const t = p.tokens;
  for (let i = 0; i < prefix.length; i++) {
    if (i >= t.length) return false;
    const tok = t[i];
    if (tok.kind === 'rest') return true;
    if (!tok.chars.includes(prefix[i])) return false;
  }
  return prefix.length < t.length;
}

/** How much one position allows: lower is more specific (after Asterisk's ordering). */
function weight(tok: Token | undefined): number {
  if (tok === undefined) return 0; // the pattern has ended: nothing more may follow
  if (tok.kind === 'rest') return tok.min === 1 ? 0x18000 : 0x28000;
  return (tok.chars.length << 8) | tok.chars.charCodeAt(0);
}

/** Negative when `a` is the more specific (it wins when both match), positive when `b` is, 0 when they tie. */
export function comparePatterns(a: Pattern, b: Pattern): number {
  if (a.exact !== b.exact) return a.exact ? -1 : 1;
  if (a.exact) return 0;
  const n = Math.max(a.tokens.length, b.tokens.length);
  for (let i = 0; i < n; i++) {
    const ta = a.tokens[i];
    const tb = b.tokens[i];
    const d = weight(ta) - weight(tb);
    if (d !== 0) return d;
    // Same size and first character: the sets themselves decide, so the order never depends on the file's order.
    if (ta?.kind === 'set' && tb?.kind === 'set' && ta.chars !== tb.chars) return ta.chars < tb.chars ? -1 : 1;
  }
  return 0;
}
