/** The self-signed certificate: which names it carries, and when a stored one is reused or remade. */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ensureSelfSignedCertificate } from '../../src/sip/transport/cert.js';
import { certificateNames, matchesHost } from '../../src/sip/transport/tls-names.js';

const dirs: string[] = [];
after(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

test('the generated certificate names the domain and listen addresses; it is remade only when one is missing', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'switchboard-cert-'));
  dirs.push(dataDir);
  const first = await ensureSelfSignedCertificate({ dataDir, hosts: ['pbx.example.com', '192.0.2.10', '[2001:db8::10]'] });
  assert.equal(first.created, true);
  const names = certificateNames(new X509Certificate(first.cert).subjectAltName, undefined);
  for (const host of ['pbx.example.com', '192.0.2.10', '2001:db8::10', 'localhost', '127.0.0.1', '::1']) {
    assert.ok(matchesHost(host, names), `${host} in ${JSON.stringify(names)}`);
  }

  const again = await ensureSelfSignedCertificate({ dataDir, hosts: ['PBX.example.com', '192.0.2.10'] });
  assert.equal(again.created, false, 'same names (case aside, a subset): the stored certificate is kept, so phones that trust it still do');
  assert.equal(again.cert, first.cert);

  const renamed = await ensureSelfSignedCertificate({ dataDir, hosts: ['sip.example.org', '0.0.0.0'] });
  assert.equal(renamed.created, true, 'a new domain is not in the old certificate: it is remade');
  assert.ok(matchesHost('sip.example.org', certificateNames(new X509Certificate(renamed.cert).subjectAltName, undefined)));
});
