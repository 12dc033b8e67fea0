/**
 * A throwaway PKI made with the openssl CLI for TLS verification tests: a CA,
 * server certificates it signs (good, wrong name, expired), a self-signed one
 * nobody trusts, and client certificates. EC P-256 keys keep it fast (~0.3 s).
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';

export interface CertFiles {
  cert: string;
  key: string;
}

export interface TestPki {
  /** The CA certificate (PEM file) that signs good, wrongName, expired and client. */
  ca: string;
  /** SAN IP:127.0.0.1, IP:::1 and DNS:sip.test. */
  good: CertFiles;
  /** SAN DNS:other.example only. */
  wrongName: CertFiles;
  /** SAN IP:127.0.0.1 and DNS:sip.test, but its validity ended a day ago. */
  expired: CertFiles;
  /** SAN IP:127.0.0.1 and DNS:sip.test, signed by itself (trust it by its own file). */
  selfSigned: CertFiles;
  /** A client certificate (CN=phone-1001) signed by the CA. */
  client: CertFiles;
  /** A client certificate signed by nobody the server knows. */
  strangerClient: CertFiles;
}

function openssl(args: string[], cwd: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('openssl', args, { cwd, timeout: 20_000 }, (err, _stdout, stderr) => {
      if (err) reject(new Error(`openssl ${args.join(' ')}: ${err.message}\n${stderr}`));
      else resolve();
    });
  });
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

async function signed(dir: string, name: string, subject: string, ext: string, days: number): Promise<CertFiles> {
  const files = { cert: path.join(dir, `${name}.pem`), key: path.join(dir, `${name}.key`) };
  const extFile = path.join(dir, `${name}.ext`);
  await writeFile(extFile, ext);
  await openssl(['req', '-new', ...EC, '-keyout', files.key, '-out', `${name}.csr`, '-subj', subject], dir);
  // A negative -days ends the validity in the past: an expired certificate without faking the clock.
  await openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-set_serial', `0x${randomBytes(8).toString('hex')}`, '-days', String(days), '-out', files.cert, '-extfile', extFile], dir);
  return files;
}

const SERVER_EXT = 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\n';
const CLIENT_EXT = 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth\n';

export async function makeTestPki(dir: string): Promise<TestPki> {
  await openssl(['req', '-x509', ...EC, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '30', '-subj', '/CN=Switchboard Test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
  const selfSigned = { cert: path.join(dir, 'self.pem'), key: path.join(dir, 'self.key') };
  const stranger = { cert: path.join(dir, 'stranger.pem'), key: path.join(dir, 'stranger.key') };
  const [good, wrongName, expired, client] = await Promise.all([
    signed(dir, 'good', '/CN=sip.test', `${SERVER_EXT}subjectAltName=IP:127.0.0.1,IP:::1,DNS:sip.test\n`, 30),
    signed(dir, 'wrong', '/CN=other.example', `${SERVER_EXT}subjectAltName=DNS:other.example\n`, 30),
    signed(dir, 'expired', '/CN=sip.test', `${SERVER_EXT}subjectAltName=IP:127.0.0.1,DNS:sip.test\n`, -1),
    signed(dir, 'client', '/CN=phone-1001', CLIENT_EXT, 30),
    openssl(['req', '-x509', ...EC, '-keyout', selfSigned.key, '-out', selfSigned.cert, '-days', '30', '-subj', '/CN=sip.test',
      '-addext', 'subjectAltName=IP:127.0.0.1,DNS:sip.test'], dir),
    openssl(['req', '-x509', ...EC, '-keyout', stranger.key, '-out', stranger.cert, '-days', '30', '-subj', '/CN=stranger'], dir),
  ]);
  return { ca: path.join(dir, 'ca.pem'), good, wrongName, expired, selfSigned, client, strangerClient: stranger };
}
