/**
 * The header-value grammars on their own, fed mutated values of the kind they
 * parse: URIs (parseUri), name-addrs (From/To/Contact/Route), Via, CSeq,
 * parameter lists, comma lists, and Digest challenges and credentials. Each
 * must accept or throw SipParseError; URIs, name-addrs and Via must
 * round-trip through their writers, and the credentials we build from an
 * accepted challenge must parse.
 */
import { buildAuthorization } from '../../../src/sip/auth/client.js';
import { parseAuthHeader } from '../../../src/sip/auth/parse.js';
import { formatNameAddr, formatVia, parseCSeq, parseNameAddr, parseParams, parseVia, splitList } from '../../../src/sip/headers.js';
import { formatUri, parseUri } from '../../../src/sip/uri.js';
import { sipSeeds } from '../corpus/sip.js';
import { mutateBytes } from '../mutate/bytes.js';
import { inject, overwrite } from '../mutate/inject.js';
import { replaceNumber } from '../mutate/numbers.js';
import { splitSip } from '../mutate/sip-draft.js';
import { addParams, deepen, swapScheme } from '../mutate/uri.js';
import type { Rng } from '../rng.js';
import { isDeclaredSipError } from './sip-shape.js';
import { assertSame, RoundTripError, type ParserTarget, type Verdict } from './target.js';

let values: string[] | undefined;

function fieldSeeds(): string[] {
  if (values) return values;
  const out = new Set<string>();
  for (const raw of sipSeeds()) {
    const d = splitSip(raw);
    const uri = d.start.split(' ')[1];
    if (uri && !d.start.startsWith('SIP/')) out.add(uri);
    for (const h of d.headers) if (h.value !== undefined && h.value.length < 2000) out.add(h.value.replace(/\r\n[ \t]+/g, ' '));
  }
  out.add('sip:[::1]:5060;transport=tcp');
  out.add('sips:user:pass@[2001:db8::10]:5061;maddr=127.0.0.1?subject=x&priority=urgent');
  out.add('tel:+1-201-555-0123;phone-context=example.com');
  out.add('"Quoted \\"name\\"" <sip:q@127.0.0.1;lr>;tag=1;expires=60');
  values = [...out].sort();
  return values;
}

function mutateField(rng: Rng, v: string): string {
  let s = v;
  const n = rng.chance(0.1) ? 0 : rng.range(1, 3);
  for (let i = 0; i < n; i++) s = rng.pick([inject, overwrite, addParams, deepen, swapScheme, replaceNumber])(rng, s);
  return s;
}

/** Runs `parse`; undefined when it refused the input with a declared error. */
function attempt<T>(parse: () => T): T | undefined {
  try {
    return parse();
  } catch (err) {
    if (isDeclaredSipError(err)) return undefined;
    throw err;
  }
}

function reparse<T>(what: string, text: string, parse: (s: string) => T): T {
  try {
    return parse(text);
  } catch (err) {
    if (isDeclaredSipError(err)) throw new RoundTripError(`${what} written as ${JSON.stringify(text.slice(0, 200))} no longer parses: ${(err as Error).message}`);
    throw err;
  }
}

export const sipFieldsTarget: ParserTarget = {
  name: 'sip-fields',
  kind: 'parser',
  weight: 14,
  generate(rng: Rng): Buffer {
    const s = mutateField(rng, rng.pick(fieldSeeds()));
    const buf = Buffer.from(s, 'latin1');
    return rng.chance(0.15) ? mutateBytes(rng, buf) : buf;
  },
  run(input: Buffer): Verdict {
    // Header values reach these parsers as UTF-8 text cut out of a message.
    const s = input.toString('utf8');
    let accepted = false;

    const uri = attempt(() => parseUri(s));
    if (uri) {
      accepted = true;
      assertSame('URI', uri, reparse('URI', formatUri(uri), parseUri));
    }
    const elements = attempt(() => splitList(s)) ?? [s];
    for (const e of elements.slice(0, 50)) {
      const na = attempt(() => parseNameAddr(e));
      if (na) {
        accepted = true;
        const again = reparse('name-addr', formatNameAddr(na), parseNameAddr);
        assertSame('name-addr', { displayName: na.displayName, uri: na.uri, params: na.params }, { displayName: again.displayName, uri: again.uri, params: again.params });
      }
      const via = attempt(() => parseVia(e));
      if (via) {
        accepted = true;
        assertSame('Via', via, reparse('Via', formatVia(via), parseVia));
      }
    }
    if (attempt(() => parseCSeq(s))) accepted = true;
    const semi = s.indexOf(';');
    if (semi >= 0 && attempt(() => parseParams(s, semi))) accepted = true;

    const auth = attempt(() => parseAuthHeader(s));
    if (auth) {
      accepted = true;
      let credentials: string | undefined;
      try {
        credentials = buildAuthorization(s, { user: 'alice', password: 'secret' }, 'REGISTER', 'sip:127.0.0.1', 1, 'cnonce');
      } catch (err) {
        // Declared: SipParseError for a malformed challenge, Error("Unsupported ...") for what we do not do.
        if (!isDeclaredSipError(err) && !(err instanceof Error && /^Unsupported/.test(err.message))) throw err;
      }
      if (credentials !== undefined) reparse('credentials built from the challenge', credentials, parseAuthHeader);
    }
    return accepted ? 'accepted' : 'rejected';
  },
};
