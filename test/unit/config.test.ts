import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import path from 'node:path';
import { ConfigError, parseConfig } from '../../src/config/load.js';
import { repoRoot } from '../helpers/repo.js';

function readmeExample(): string {
  const readme = readFileSync(path.join(repoRoot(), 'README.md'), 'utf8');
  const m = /## `switchboard\.yaml`[\s\S]*?```yaml\n([\s\S]*?)```/.exec(readme);
  assert.ok(m, 'README has the switchboard.yaml example');
  return m[1];
}

test('the README example parses exactly as written', () => {
  const c = parseConfig(readmeExample(), 'switchboard.yaml');
  assert.equal(c.domain, '127.0.0.1');
  assert.deepEqual(
    c.sip.listen.map((l) => `${l.proto}:${l.address}:${l.port}`),
    ['udp:127.0.0.1:5060', 'tcp:127.0.0.1:5060', 'tls:127.0.0.1:5061'],
  );
  assert.deepEqual(c.admin.listen, { address: '127.0.0.1', port: 8089 });
  assert.deepEqual([...c.users.keys()], ['alice', '1002']);
  assert.equal(c.users.get('1002')?.password, 'B0b-long-pass-88');
  assert.ok(c.data.endsWith('/data'));
  assert.deepEqual(c.sip.timers, { T1: 500, T2: 4000, T4: 5000 });
});

function errorOf(yaml: string): ConfigError {
  try {
    parseConfig(yaml, 'sb.yaml');
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${(err as Error).message}`);
    return err;
  }
  assert.fail('config was accepted');
}

test('errors name the file, the line and the key', () => {
  const short = errorOf('domain: example.com\nusers:\n  alice:\n    password: short\n');
  assert.equal(short.message, 'sb.yaml:4: users.alice.password: too short: use at least 8 characters (toll fraud starts with weak SIP passwords)');

  const listen = errorOf('domain: example.com\nsip:\n  listen:\n    - udp:127.0.0.1:5060\n    - sctp:127.0.0.1:5060\n');
  assert.equal(listen.line, 5);
  assert.equal(listen.key, 'sip.listen.1');
  assert.match(listen.message, /unknown protocol "sctp"/);

  const unknown = errorOf('domain: example.com\nsipp:\n  listen: []\n');
  assert.equal(unknown.line, 2);
  assert.equal(unknown.key, 'sipp');

  const missing = errorOf('users: {}\n');
  assert.equal(missing.key, 'domain');

  const timers = errorOf('domain: a.example\nsip:\n  timers:\n    T1: fast\n');
  assert.equal(timers.line, 4);
  assert.match(timers.message, /sip\.timers\.T1: expected a whole number/);

  const yamlSyntax = errorOf('domain: a.example\nusers:\n  alice: { password: "x\n');
  assert.equal(yamlSyntax.key, '(yaml)');

  const dup = errorOf('domain: a.example\nusers:\n  bob: { password: "long-enough-1" }\n  bob: { password: "long-enough-2" }\n');
  assert.equal(dup.line, 4);
  assert.equal(dup.key, 'users.bob');
  assert.match(dup.message, /duplicate key/);

  const ha1 = errorOf('domain: a.example\nusers:\n  bob: { ha1: nothex }\n');
  assert.equal(ha1.key, 'users.bob.ha1');
});

test('defaults fill in what is not given; HA1 passwords are accepted', () => {
  const c = parseConfig('domain: sip.example.com\nusers:\n  bob: { ha1: 0123456789abcdef0123456789ABCDEF }\n', 'x.yaml');
  assert.equal(c.sip.listen.length, 3);
  assert.equal(c.sip.minExpires, 60);
  assert.equal(c.sip.timerC, 180);
  assert.equal(c.users.get('bob')?.ha1?.MD5, '0123456789abcdef0123456789abcdef');
  assert.deepEqual(c.sip.authAlgorithms, ['MD5']);
});

test('log, security and limits: defaults, the issue contract as written, and errors naming the key', () => {
  const d = parseConfig('domain: a.example\n', 'x.yaml');
  assert.equal(d.log.level, 'info');
  assert.deepEqual(d.security.ban, { maxFailures: 10, findTime: 600, banTime: 3600 });
  assert.equal(d.security.pike, undefined);
  assert.deepEqual(d.security.allow, []);
  assert.equal(d.limits.maxTraceCalls, 500);
  assert.deepEqual(d.sip.tls, { cert: undefined, key: undefined, ca: [], verify: true, clientCerts: 'none' });

  const c = parseConfig(
    [
      'domain: 127.0.0.1',
      'security:',
      '  ban: { max_failures: 5, find_time: 60, ban_time: 300 }',
      '  pike: { requests_per_second: 100, burst: 200, ban_time: 60 }',
      '  allow: [10.0.0.0/8, "::1", 192.0.2.7]',
      'log: { level: info }',
      'limits: { max_transactions: 5000, heap_watermark_mb: 512 }',
      'trace: { max_calls: 42 }',
      'sip:',
      '  tls: { ca: ca.pem, verify: false, client_certs: require }',
    ].join('\n'),
    'x.yaml',
  );
  assert.deepEqual(c.security.ban, { maxFailures: 5, findTime: 60, banTime: 300 });
  assert.deepEqual(c.security.pike, { requestsPerSecond: 100, burst: 200, banTime: 60 });
  assert.deepEqual(c.security.allow, ['10.0.0.0/8', '::1', '192.0.2.7']);
  assert.equal(c.limits.maxTransactions, 5000);
  assert.equal(c.limits.heapWatermarkMb, 512);
  assert.equal(c.limits.maxTraceCalls, 42, 'trace.max_calls still sets the trace bound');
  assert.equal(c.sip.tls.verify, false);
  assert.equal(c.sip.tls.clientCerts, 'require');
  assert.ok(c.sip.tls.ca[0].endsWith('/ca.pem'));

  assert.equal(parseConfig('domain: a.example\nsecurity: { ban: off }\n', 'x.yaml').security.ban, undefined);
  assert.equal(parseConfig('domain: a.example\nsecurity: { ban: false, pike: false }\n', 'x.yaml').security.pike, undefined);

  assert.equal(errorOf('domain: a\nlog: { level: loud }\n').key, 'log.level');
  assert.match(errorOf('domain: a\nlog: { level: loud }\n').message, /expected one of trace, debug, info, warn, error, fatal, silent/);
  const allow = errorOf('domain: a\nsecurity:\n  allow: [10.0.0.0/33]\n');
  assert.equal(allow.key, 'security.allow.0');
  assert.equal(allow.line, 3);
  assert.equal(errorOf('domain: a\nsecurity: { pike: { burst: 10 } }\n').key, 'security.pike.requests_per_second');
  assert.equal(errorOf('domain: a\nsecurity: { ban: { max_failures: 0 } }\n').key, 'security.ban.max_failures');
  assert.equal(errorOf('domain: a\nsip: { tls: { client_certs: maybe } }\n').key, 'sip.tls.client_certs');
  assert.equal(errorOf('domain: a\nsip: { tls: { verify: sometimes } }\n').key, 'sip.tls.verify');
  assert.equal(errorOf('domain: a\nlimits: { max_sockets: 3 }\n').key, 'limits.max_sockets');
});
