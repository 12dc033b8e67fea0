import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VirtualClock } from '../../src/util/clock.js';
import { SipParseError } from '../../src/sip/errors.js';
import { SipMessage, parseMessage } from '../../src/sip/message.js';
import {
  DigestServer, NonceManager, buildAuthorization, digestResponse, ha1, parseAuthHeader, selectChallenge,
  type Credential, type DigestAlgorithmName,
} from '../../src/sip/auth/index.js';

const REALM = 'example.com';
const ALICE = { user: 'alice', password: 's3cret' };
const users = new Map<string, Credential>([['alice', { password: 's3cret' }]]);
const lookup = (u: string): Credential | undefined => users.get(u);

function register(uri = 'sip:example.com'): SipMessage {
  return SipMessage.request('REGISTER', uri, [
    ['Via', 'SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-1'],
    ['Max-Forwards', '70'],
    ['From', '<sip:alice@example.com>;tag=a1'],
    ['To', '<sip:alice@example.com>'],
    ['Call-ID', 'reg-1@127.0.0.1'],
    ['CSeq', '2 REGISTER'],
    ['Contact', '<sip:alice@127.0.0.1:5070>'],
  ]);
}

/** Sends headers through the serializer and parser, as a phone on the wire would see them. */
function overTheWire(msg: SipMessage): SipMessage {
  return parseMessage(msg.toBuffer());
}

function setup(opts: { algorithms?: DigestAlgorithmName[]; secret?: Buffer; lifetimeMs?: number; maxTracked?: number } = {}) {
  const clock = new VirtualClock();
  const nonces = new NonceManager({ clock, secret: opts.secret, lifetimeMs: opts.lifetimeMs, maxTracked: opts.maxTracked });
  const server = new DigestServer({ realm: REALM, clock, algorithms: opts.algorithms, nonces });
  return { clock, nonces, server };
}

/** A 401 from `server`, parsed as the phone gets it, answered with `cred`. */
function answer(server: DigestServer, cred: { user: string; password: string }, nc = 1, req = register(), proxy = false): SipMessage {
  const resp = overTheWire(SipMessage.response(proxy ? 407 : 401, 'Unauthorized', server.challenge(proxy)));
  const chosen = selectChallenge(resp.getAll(proxy ? 'proxy-authenticate' : 'www-authenticate'));
  assert.ok(chosen, 'a usable challenge');
  req.set(proxy ? 'Proxy-Authorization' : 'Authorization', buildAuthorization(chosen, cred, req.method, req.uri, nc));
  return overTheWire(req);
}

/** Re-signs a request for the same challenge with another nc, as a phone does for its next request. */
function withNc(challenge: string, nc: number, cred = ALICE): SipMessage {
  const req = register();
  req.set('Authorization', buildAuthorization(challenge, cred, 'REGISTER', req.uri, nc, 'cn-fixed'));
  return overTheWire(req);
}

test('RFC 2617 §3.5 example: MD5, qop=auth', () => {
  const key = ha1('Mufasa', 'testrealm@host.com', 'Circle Of Life', 'MD5');
  const response = digestResponse({
    alg: 'MD5', ha1: key, nonce: 'dcd98b7102dd2f0e8b11d0f600bfb0c093', nc: '00000001', cnonce: '0a4f113b',
    qop: 'auth', method: 'GET', uri: '/dir/index.html',
  });
  assert.equal(response, '6629fae49393a05397450978507c4ef1');
});

test('RFC 7616 §3.9.1 examples: MD5 and SHA-256', () => {
  const common = {
    nonce: '7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v', nc: '00000001',
    cnonce: 'f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ', qop: 'auth' as const, method: 'GET', uri: '/dir/index.html',
  };
  const md5 = digestResponse({ ...common, alg: 'MD5', ha1: ha1('Mufasa', 'http-auth@example.org', 'Circle of Life', 'MD5') });
  assert.equal(md5, '8ca523f5e9506fed4657c9700eebdbec');
  const sha = digestResponse({ ...common, alg: 'SHA-256', ha1: ha1('Mufasa', 'http-auth@example.org', 'Circle of Life', 'SHA-256') });
  assert.equal(sha, '753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1');
});

test('buildAuthorization reproduces the RFC 7616 SHA-256 response from the RFC challenge', () => {
  const challenge = 'Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=SHA-256, '
    + 'nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"';
  const value = buildAuthorization(challenge, { user: 'Mufasa', password: 'Circle of Life' }, 'GET', '/dir/index.html', 1,
    'f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ');
  const p = parseAuthHeader(value).params;
  assert.equal(p.get('response'), '753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1');
  assert.equal(p.get('algorithm'), 'SHA-256');
  assert.equal(p.get('qop'), 'auth');
  assert.equal(p.get('nc'), '00000001');
  assert.equal(p.get('opaque'), 'FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS');
});

test('parseAuthHeader: quoted and bare values, commas in quotes, escapes, case-insensitive names', () => {
  const h = parseAuthHeader('Digest  USERNAME="bob" ,Realm="a, b",nonce = "x\\"y", algorithm=MD5,qop=auth, nc=00000001');
  assert.equal(h.scheme, 'Digest');
  assert.deepEqual([...h.params], [
    ['username', 'bob'], ['realm', 'a, b'], ['nonce', 'x"y'], ['algorithm', 'MD5'], ['qop', 'auth'], ['nc', '00000001'],
  ]);
  assert.equal(parseAuthHeader('digest realm="r"').params.get('realm'), 'r');
});

test('parseAuthHeader: malformed input is a SipParseError 400 naming the problem', () => {
  const cases: [string, RegExp][] = [
    ['', /scheme/],
    ['Digest realm="unterminated', /Unterminated/],
    ['Digest realm', /no "=value"/],
    ['Digest realm=', /empty value/],
    ['Digest realm="a" nonce="b"', /Expected ","/],
    ['Digest realm="a", realm="b"', /Duplicate auth-param "realm"/],
    ['Digest ="x"', /auth-param name/],
    ['Dig"est realm="a"', /scheme/],
  ];
  for (const [value, message] of cases) {
    assert.throws(() => parseAuthHeader(value), (e: unknown) => {
      assert.ok(e instanceof SipParseError, `SipParseError for ${JSON.stringify(value)}`);
      assert.equal(e.status, 400);
      assert.match(e.message, message);
      return true;
    });
  }
});

test('challenge: one header per algorithm, SHA-256 first, qop=auth, stale on request', () => {
  const { server } = setup();
  const plain = server.challenge(false);
  assert.deepEqual(plain.map(([name]) => name), ['WWW-Authenticate', 'WWW-Authenticate']);
  const parsed = plain.map(([, v]) => parseAuthHeader(v));
  assert.deepEqual(parsed.map((h) => h.params.get('algorithm')), ['SHA-256', 'MD5']);
  for (const h of parsed) {
    assert.equal(h.scheme, 'Digest');
    assert.equal(h.params.get('realm'), REALM);
    assert.equal(h.params.get('qop'), 'auth');
    assert.ok(h.params.get('nonce'));
    assert.equal(h.params.has('stale'), false);
  }
  assert.match(plain[0][1], /qop="auth"/);
  const proxy = server.challenge(true, true);
  assert.deepEqual(proxy.map(([name]) => name), ['Proxy-Authenticate', 'Proxy-Authenticate']);
  assert.equal(parseAuthHeader(proxy[0][1]).params.get('stale'), 'true');
});

test('full SIP round trip: REGISTER challenged, answered with SHA-256, verified', () => {
  const { server } = setup();
  const req = answer(server, ALICE);
  assert.equal(parseAuthHeader(req.get('authorization') ?? '').params.get('algorithm'), 'SHA-256');
  assert.deepEqual(server.verify(req, false, lookup), { ok: true, user: 'alice' });
});

test('an MD5-only phone answering the second challenge is accepted', () => {
  const { server } = setup();
  const md5 = server.challenge(false).map(([, v]) => v).find((v) => /algorithm=MD5/.test(v));
  assert.ok(md5);
  const req = register();
  req.set('Authorization', buildAuthorization(md5, ALICE, 'REGISTER', req.uri, 1));
  assert.deepEqual(server.verify(overTheWire(req), false, lookup), { ok: true, user: 'alice' });
});

test('proxy authentication uses Proxy-Authorization, not Authorization', () => {
  const { server } = setup();
  const invite = SipMessage.request('INVITE', 'sip:bob@example.com', [
    ['Via', 'SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-2'], ['From', '<sip:alice@example.com>;tag=a'],
    ['To', '<sip:bob@example.com>'], ['Call-ID', 'c2'], ['CSeq', '1 INVITE'],
  ]);
  const req = answer(server, ALICE, 1, invite, true);
  assert.deepEqual(server.verify(req, true, lookup), { ok: true, user: 'alice' });
  const asRegistrar = server.verify(req, false, lookup);
  assert.equal(asRegistrar.ok, false);
});

test('wrong password and unknown user look the same from outside', () => {
  const { server } = setup();
  const wrong = server.verify(answer(server, { user: 'alice', password: 'guess' }), false, lookup);
  const unknown = server.verify(answer(server, { user: 'mallory', password: 's3cret' }), false, lookup);
  assert.equal(wrong.ok, false);
  assert.equal(unknown.ok, false);
  const outward = (r: typeof wrong) => (r.ok ? r : { ok: r.ok, stale: r.stale });
  assert.deepEqual(outward(wrong), { ok: false, stale: false });
  assert.deepEqual(outward(unknown), outward(wrong));
});

test('a forged or tampered nonce is rejected, not reported stale', () => {
  const { server, clock } = setup();
  const foreign = new DigestServer({ realm: REALM, clock, nonces: new NonceManager({ clock, secret: Buffer.alloc(32, 7) }) });
  const forged = server.verify(answer(foreign, ALICE), false, lookup);
  assert.deepEqual(forged.ok ? forged : { ok: forged.ok, stale: forged.stale }, { ok: false, stale: false });

  const [, value] = server.challenge(false)[0];
  const nonce = parseAuthHeader(value).params.get('nonce') ?? '';
  const flipped = nonce.slice(0, 5) + (nonce[5] === 'A' ? 'B' : 'A') + nonce.slice(6);
  const tampered = withNc(value.replace(nonce, flipped), 1);
  const r = server.verify(tampered, false, lookup);
  assert.equal(r.ok, false);
  assert.equal(!r.ok && r.stale, false);
  assert.equal(server.verify(withNc(value.replace(nonce, 'made-up-nonce'), 1), false, lookup).ok, false);
});

test('an expired but genuine nonce answers stale=true; with a wrong password it does not', () => {
  const { server, clock } = setup({ lifetimeMs: 300_000 });
  const good = answer(server, ALICE);
  const bad = answer(server, { user: 'alice', password: 'guess' });
  clock.advance(299_000);
  // Still fresh just before the lifetime ends (checked on a clone so the nc is not used up).
  assert.deepEqual(server.verify(good.clone(), false, lookup), { ok: true, user: 'alice' });
  clock.advance(2_000);
  const r = server.verify(good, false, lookup);
  assert.equal(r.ok, false);
  assert.equal(!r.ok && r.stale, true);
  const rb = server.verify(bad, false, lookup);
  assert.equal(!rb.ok && rb.stale, false);
});

test('a restart with the same secret accepts recent nonces; another secret does not', () => {
  const secret = Buffer.alloc(32, 1);
  const clock = new VirtualClock();
  const before = new DigestServer({ realm: REALM, clock, nonces: new NonceManager({ clock, secret }) });
  const req = answer(before, ALICE);
  const after = new DigestServer({ realm: REALM, clock, nonces: new NonceManager({ clock, secret }) });
  assert.deepEqual(after.verify(req.clone(), false, lookup), { ok: true, user: 'alice' });
  const other = new DigestServer({ realm: REALM, clock, nonces: new NonceManager({ clock, secret: Buffer.alloc(32, 2) }) });
  assert.equal(other.verify(req, false, lookup).ok, false);
});

test('nonce-count replay is rejected; increasing counts are accepted', () => {
  const { server } = setup();
  const challenge = server.challenge(false)[0][1];
  assert.deepEqual(server.verify(withNc(challenge, 1), false, lookup), { ok: true, user: 'alice' });
  const replay = server.verify(withNc(challenge, 1), false, lookup);
  assert.equal(replay.ok, false);
  assert.deepEqual(server.verify(withNc(challenge, 2), false, lookup), { ok: true, user: 'alice' });
  assert.equal(server.verify(withNc(challenge, 2), false, lookup).ok, false);
  assert.equal(server.verify(withNc(challenge, 1), false, lookup).ok, false);
  assert.deepEqual(server.verify(withNc(challenge, 7), false, lookup), { ok: true, user: 'alice' });
});

test('a wrong response does not use up a nonce count', () => {
  const { server } = setup();
  const challenge = server.challenge(false)[0][1];
  assert.equal(server.verify(withNc(challenge, 5, { user: 'alice', password: 'guess' }), false, lookup).ok, false);
  assert.deepEqual(server.verify(withNc(challenge, 1), false, lookup), { ok: true, user: 'alice' });
});

test('when the nonce table overflows, a forgotten nonce is refused as stale rather than replayable', () => {
  const { server, clock } = setup({ maxTracked: 2 });
  const challenges: string[] = [];
  for (let i = 0; i < 3; i++) {
    challenges.push(server.challenge(false)[0][1]);
    clock.advance(10);
  }
  for (const c of challenges) assert.equal(server.verify(withNc(c, 1), false, lookup).ok, true);
  assert.equal(server.nonces.trackedCount, 2);
  const r = server.verify(withNc(challenges[0], 1), false, lookup);
  assert.equal(r.ok, false);
  assert.equal(!r.ok && r.stale, true);
  assert.equal(server.verify(withNc(challenges[2], 2), false, lookup).ok, true);
});

test('a precomputed HA1 works in place of the password', () => {
  const { server } = setup();
  const ha1Users = new Map<string, Credential>([['alice', {
    ha1: { MD5: ha1('alice', REALM, 's3cret', 'MD5'), 'SHA-256': ha1('alice', REALM, 's3cret', 'SHA-256').toUpperCase() },
  }]]);
  assert.deepEqual(server.verify(answer(server, ALICE), false, (u) => ha1Users.get(u)), { ok: true, user: 'alice' });
  // Only an MD5 HA1 stored: a SHA-256 answer cannot be checked and fails like a wrong password.
  const md5Only = new Map<string, Credential>([['alice', { ha1: { MD5: ha1('alice', REALM, 's3cret', 'MD5') } }]]);
  const r = server.verify(answer(server, ALICE), false, (u) => md5Only.get(u));
  assert.equal(r.ok, false);
});

test('RFC 2069 answer without qop is accepted', () => {
  const { server } = setup({ algorithms: ['MD5'] });
  const nonce = parseAuthHeader(server.challenge(false)[0][1]).params.get('nonce') ?? '';
  const req = register();
  const value = buildAuthorization(`Digest realm="${REALM}", nonce="${nonce}"`, ALICE, 'REGISTER', req.uri, 1);
  assert.equal(parseAuthHeader(value).params.has('qop'), false);
  req.set('Authorization', value);
  assert.deepEqual(server.verify(overTheWire(req), false, lookup), { ok: true, user: 'alice' });
});

test('-sess algorithms round trip', () => {
  const { server } = setup({ algorithms: ['SHA-256-sess', 'MD5-sess'] });
  assert.deepEqual(server.verify(answer(server, ALICE), false, lookup), { ok: true, user: 'alice' });
});

test('an algorithm the server did not offer is refused', () => {
  const { server } = setup({ algorithms: ['SHA-256'] });
  const nonce = parseAuthHeader(server.challenge(false)[0][1]).params.get('nonce') ?? '';
  const req = withNc(`Digest realm="${REALM}", nonce="${nonce}", algorithm=MD5, qop="auth"`, 1);
  assert.equal(server.verify(req, false, lookup).ok, false);
});

test('credentials for another Request-URI or realm do not authenticate', () => {
  const { server } = setup();
  const challenge = server.challenge(false)[0][1];
  const req = register('sip:example.com');
  req.set('Authorization', buildAuthorization(challenge, ALICE, 'REGISTER', 'sip:other.example.net', 1));
  assert.equal(server.verify(overTheWire(req), false, lookup).ok, false);

  // Host case and URI parameters differ between phones; the same target still matches.
  const loose = register('sip:EXAMPLE.com;transport=tcp');
  loose.set('Authorization', buildAuthorization(challenge, ALICE, 'REGISTER', 'sip:example.com', 2));
  assert.deepEqual(server.verify(overTheWire(loose), false, lookup), { ok: true, user: 'alice' });

  const elsewhere = new DigestServer({ realm: 'other.realm', clock: new VirtualClock(), nonces: server.nonces });
  assert.deepEqual(elsewhere.verify(answer(server, ALICE), false, lookup),
    { ok: false, stale: false, reason: 'no Digest credentials for realm "other.realm"' });
  assert.equal(server.verify(register(), false, lookup).ok, false);
});

test('malformed credentials make verify throw SipParseError 400', () => {
  const { server } = setup();
  const nonce = parseAuthHeader(server.challenge(false)[0][1]).params.get('nonce') ?? '';
  const bad = [
    'Digest username="alice", realm="example.com", nonce="unterminated',
    `Digest username="alice", realm="${REALM}", nonce="${nonce}", uri="sip:example.com"`,
    `Digest username="alice", realm="${REALM}", nonce="${nonce}", uri="sip:example.com", response="00", qop=auth, nc=1, cnonce="x"`,
  ];
  for (const value of bad) {
    const req = register();
    req.set('Authorization', value);
    assert.throws(() => server.verify(req, false, lookup), (e: unknown) => e instanceof SipParseError && e.status === 400);
  }
});

test('selectChallenge prefers SHA-256, skips broken and unusable challenges', () => {
  const values = [
    'Digest realm="r", nonce="n1", algorithm=MD5, qop="auth"',
    'Digest realm="r", nonce="broken',
    'Digest realm="r", nonce="n2", algorithm=SHA-512-256, qop="auth"',
    'Digest realm="r", nonce="n3", algorithm=SHA-256, qop="auth-int"',
    'Digest realm="r", nonce="n4", algorithm=SHA-256, qop="auth,auth-int"',
  ];
  assert.match(selectChallenge(values) ?? '', /n4/);
  assert.match(selectChallenge(values.slice(0, 4)) ?? '', /n1/);
  assert.equal(selectChallenge(values, 'other'), undefined);
});

test('fuzz: garbage credentials only ever produce SipParseError or a refusal', () => {
  const { server } = setup();
  const good = answer(server, ALICE).get('authorization') ?? '';
  const alphabet = 'Digest =,"\\ \tabc:/0123456789nrealmuseqop';
  let seed = 12345;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  for (let i = 0; i < 2000; i++) {
    let value = good;
    // Mutate a few characters of a valid header, or build a random one.
    if (i % 2 === 0) {
      for (let k = 0; k < 1 + rand(4); k++) {
        const at = rand(value.length + 1);
        value = value.slice(0, at) + alphabet[rand(alphabet.length)] + value.slice(at + rand(3));
      }
    } else {
      value = Array.from({ length: rand(60) }, () => alphabet[rand(alphabet.length)]).join('');
    }
    const req = register();
    req.set('Authorization', value);
    try {
      const r = server.verify(req, false, lookup);
      // A mutation that leaves the digest inputs intact may still pass; anything else is refused.
      if (r.ok) assert.equal(r.user, 'alice');
    } catch (e) {
      assert.ok(e instanceof SipParseError, `unexpected ${String(e)} for ${JSON.stringify(value)}`);
      assert.equal(e.status, 400);
    }
  }
});
