import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { defaultPhoneRoot, servePhone, type PhoneConfig } from '../../src/web/static.js';

interface Got {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A raw request: the path goes out byte for byte (fetch and URL would normalise "..").*/
function get(port: number, urlPath: string, method = 'GET'): Promise<Got> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: urlPath, method }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

async function listen(handler: http.RequestListener): Promise<{ port: number; close(): Promise<void> }> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

let tmp: string;
let root: string;
let port: number;
let close: () => Promise<void>;
let config: PhoneConfig = { domain: 'example.test', iceServers: [{ urls: 'stun:127.0.0.1:3478' }] };

before(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'sb-web-'));
  root = path.join(tmp, 'phone');
  mkdirSync(path.join(root, 'sub'), { recursive: true });
  writeFileSync(path.join(root, 'index.html'), '<!doctype html><title>phone</title>');
  writeFileSync(path.join(root, 'app.js'), 'console.log("app")');
  writeFileSync(path.join(root, 'style.css'), 'body{}');
  writeFileSync(path.join(root, 'app.js.map'), '{}');
  writeFileSync(path.join(root, 'blob.bin'), 'xx');
  writeFileSync(path.join(root, '.env'), 'HIDDEN-DOTFILE');
  // A sibling of the served directory whose name starts like it: a prefix check alone would let it through.
  mkdirSync(path.join(tmp, 'phone-private'));
  writeFileSync(path.join(tmp, 'phone-private', 'key.txt'), 'SECRET-SIBLING');
  writeFileSync(path.join(tmp, 'secret.txt'), 'SECRET-OUTSIDE');
  const s = await listen(servePhone({ root, config: () => config }));
  port = s.port;
  close = s.close;
});

after(async () => {
  await close();
  rmSync(tmp, { recursive: true, force: true });
});

test('the page and its files are served with their content types', async () => {
  for (const [p, type, body] of [
    ['/phone/', 'text/html; charset=utf-8', '<!doctype html><title>phone</title>'],
    ['/phone', 'text/html; charset=utf-8', '<!doctype html><title>phone</title>'],
    ['/phone/index.html', 'text/html; charset=utf-8', '<!doctype html><title>phone</title>'],
    ['/phone/app.js', 'text/javascript; charset=utf-8', 'console.log("app")'],
    ['/phone/app.js?v=2', 'text/javascript; charset=utf-8', 'console.log("app")'],
    ['/phone/style.css', 'text/css; charset=utf-8', 'body{}'],
    ['/phone/app.js.map', 'application/json', '{}'],
    ['/phone/blob.bin', 'application/octet-stream', 'xx'],
  ] as const) {
    const r = await get(port, p);
    assert.equal(r.status, 200, p);
    assert.equal(r.headers['content-type'], type, p);
    assert.equal(r.headers['x-content-type-options'], 'nosniff', p);
    assert.equal(r.body, body, p);
  }
  const html = await get(port, '/phone/');
  assert.match(String(html.headers['content-security-policy']), /connect-src 'self' ws: wss:/);
});

test('/ redirects to the phone; HEAD has headers and no body; other methods get 405 naming GET', async () => {
  const r = await get(port, '/');
  assert.equal(r.status, 302);
  assert.equal(r.headers.location, '/phone/');
  const head = await get(port, '/phone/app.js', 'HEAD');
  assert.equal(head.status, 200);
  assert.equal(head.headers['content-length'], String('console.log("app")'.length));
  assert.equal(head.body, '');
  const post = await get(port, '/phone/', 'POST');
  assert.equal(post.status, 405);
  assert.equal(post.headers.allow, 'GET, HEAD');
  assert.match(post.body, /POST .*GET/);
});

test('config.json is the callback, read on every request (TURN credentials expire)', async () => {
  const a = await get(port, '/phone/config.json');
  assert.equal(a.status, 200);
  assert.equal(a.headers['content-type'], 'application/json');
  assert.equal(a.headers['cache-control'], 'no-store');
  assert.deepEqual(JSON.parse(a.body), { domain: 'example.test', iceServers: [{ urls: 'stun:127.0.0.1:3478' }] });
  config = { domain: '127.0.0.1', iceServers: [{ urls: 'turn:127.0.0.1:3478', username: '1700000000:1001', credential: 'abc=' }], iceTransportPolicy: 'relay' };
  const b = await get(port, '/phone/config.json');
  assert.deepEqual(JSON.parse(b.body), config);
});

test('no path leaves the page directory: dot segments, encoded slashes, backslashes, NUL, absolute paths, dotfiles', async () => {
  const attempts = [
    '/phone/../secret.txt',
    '/phone/%2e%2e/secret.txt',
    '/phone/%2E%2E/secret.txt',
    '/phone/..%2fsecret.txt',
    '/phone/%2e%2e%2fsecret.txt',
    '/phone/sub/../../secret.txt',
    '/phone/sub/%2e%2e%2f%2e%2e%2fsecret.txt',
    '/phone/..%5csecret.txt',
    '/phone/..\\secret.txt',
    '/phone/%2e%2e/phone-private/key.txt',
    '/phone/../phone-private/key.txt',
    `/phone/${encodeURIComponent(path.join(tmp, 'secret.txt'))}`,
    `/phone/${path.join(tmp, 'secret.txt')}`,
    '/phone//etc/passwd',
    '/phone/%2fetc%2fpasswd',
    '/phone/index.html%00.js',
    '/phone/.env',
    '/phone/%2eenv',
    '/phone/./index.html/..',
  ];
  for (const p of attempts) {
    const r = await get(port, p);
    assert.ok(r.status === 400 || r.status === 404, `${p} answered ${r.status}`);
    assert.doesNotMatch(r.body, /SECRET|HIDDEN|root:/, p);
  }
});

test('anything else is 404 with a hint; bad percent-encoding is 400', async () => {
  for (const p of ['/phone/nope.js', '/other', '/phoneX', '/phone/sub', '/phone/sub/', '/favicon.ico']) {
    const r = await get(port, p);
    assert.equal(r.status, 404, p);
    assert.match(r.body, /nothing at/, p);
  }
  assert.equal((await get(port, '/other')).body.includes('/phone/'), true);
  const bad = await get(port, '/phone/%E0%A4%A');
  assert.equal(bad.status, 400);
  assert.match(bad.body, /percent-encoding/);
});

test('a broken config callback is a 500 and the server keeps serving', async () => {
  const s = await listen(
    servePhone({
      root,
      config: () => {
        throw new Error('no webrtc section');
      },
    }),
  );
  try {
    assert.equal((await get(s.port, '/phone/config.json')).status, 500);
    assert.equal((await get(s.port, '/phone/app.js')).status, 200);
  } finally {
    await s.close();
  }
});

test('the built page (npm run build) is found from the compiled module and served whole', async () => {
  const built = defaultPhoneRoot();
  assert.ok(existsSync(path.join(built, 'index.html')), `${built}/index.html: run npm run build`);
  const s = await listen(servePhone({ root: built, config: () => config }));
  try {
    const page = await get(s.port, '/phone/');
    assert.equal(page.status, 200);
    assert.match(page.body, /role="status"/);
    // Every file the page names is served from the same directory.
    for (const ref of page.body.matchAll(/(?:src|href)="(\/phone\/[^"]+)"/g)) {
      const r = await get(s.port, ref[1]);
      assert.equal(r.status, 200, ref[1]);
    }
    const app = await get(s.port, '/phone/app.js');
    assert.equal(app.headers['content-type'], 'text/javascript; charset=utf-8');
    assert.ok(app.body.length > 50_000, 'app.js bundles JsSIP');
    assert.doesNotMatch(app.body, /from\s*["']jssip["']/, 'no bare import left for the browser to resolve');
  } finally {
    await s.close();
  }
});
