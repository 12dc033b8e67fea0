/**
 * A self-signed certificate for the TLS listener, so `tls:` works out of the
 * box. It is made once, stored as PEM in the data directory and reused on
 * every later start (phones that pinned it keep working); it is only remade
 * when missing, unreadable, about to expire, or when it does not name a host
 * it must (the domain or a listen address changed). Its subjectAltName holds
 * localhost, the loopback addresses, this machine's name, the domain and
 * aliases, and the listen addresses (every interface's for a wildcard), so a
 * phone that trusts it (`--ca`) can verify it by any of those. Real
 * deployments point tls.certFile / tls.keyFile at a proper certificate instead.
 */
import { X509Certificate } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { hostname, networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { isIP } from 'node:net';
import { bareHost } from '../uri.js';
import { certificateNames, matchesHost } from './tls-names.js';

export const CERT_FILE_NAME = 'sip-tls-cert.pem';
export const KEY_FILE_NAME = 'sip-tls-key.pem';

export interface CertificateFiles {
  certFile: string;
  keyFile: string;
  cert: string;
  key: string;
  /** True when this call generated the certificate, false when it reused the stored one. */
  created: boolean;
}

export interface SelfSignedOptions {
  dataDir: string;
  /** Host names and IP addresses for subjectAltName; localhost and loopback are always added. */
  hosts?: string[];
  days?: number;
}

/** The part of the `selfsigned` package we use (its bundled typings do not export it). */
interface SelfsignedModule {
  generate(
    attrs: { name: string; value: string }[],
    opts: { days: number; keySize: number; algorithm: string; extensions: object[] },
    done: (err: Error | undefined, pems: { private: string; cert: string }) => void,
  ): void;
}

const RENEW_BEFORE_MS = 24 * 3600 * 1000;

export async function ensureSelfSignedCertificate(opts: SelfSignedOptions): Promise<CertificateFiles> {
  const certFile = join(opts.dataDir, CERT_FILE_NAME);
  const keyFile = join(opts.dataDir, KEY_FILE_NAME);
  const wanted = (opts.hosts ?? []).map((h) => bareHost(h.trim())).filter(Boolean);
  const existing = await readPair(certFile, keyFile);
  if (existing && stillValid(existing.cert) && namesAll(existing.cert, requiredHosts(wanted))) {
    return { certFile, keyFile, ...existing, created: false };
  }

  const hosts = subjectHosts(wanted);
  const pems = await generate(hosts, opts.days ?? 825);
  await mkdir(opts.dataDir, { recursive: true });
  // Write then rename so a crash never leaves half a PEM that a later start would trust.
  await writeFile(`${keyFile}.tmp`, pems.private, { mode: 0o600 });
  await writeFile(`${certFile}.tmp`, pems.cert, { mode: 0o644 });
  await rename(`${keyFile}.tmp`, keyFile);
  await rename(`${certFile}.tmp`, certFile);
  return { certFile, keyFile, cert: pems.cert, key: pems.private, created: true };
}

/** Reads a configured certificate and key, with errors that name the file. */
export async function loadCertificateFiles(certFile: string, keyFile: string): Promise<CertificateFiles> {
  const read = async (file: string, what: string): Promise<string> => {
    try {
      return await readFile(file, 'utf8');
    } catch (err) {
      throw new Error(`Cannot read TLS ${what} file ${file} (sip tls settings): ${(err as Error).message}`);
    }
  };
  return { certFile, keyFile, cert: await read(certFile, 'certificate'), key: await read(keyFile, 'key'), created: false };
}

async function readPair(certFile: string, keyFile: string): Promise<{ cert: string; key: string } | undefined> {
  try {
    const [cert, key] = await Promise.all([readFile(certFile, 'utf8'), readFile(keyFile, 'utf8')]);
    return { cert, key };
  } catch {
    return undefined;
  }
}

function stillValid(certPem: string): boolean {
  try {
    const x = new X509Certificate(certPem);
    return Date.parse(x.validTo) - Date.now() > RENEW_BEFORE_MS;
  } catch {
    return false;
  }
}

/** Hosts a reused certificate must still name: the fixed ones and every explicit (non-wildcard) host. */
function requiredHosts(extra: string[]): string[] {
  return ['localhost', '127.0.0.1', '::1', ...extra.filter((h) => h && h !== '0.0.0.0' && h !== '::')];
}

function namesAll(certPem: string, hosts: string[]): boolean {
  try {
    const x = new X509Certificate(certPem);
    const names = certificateNames(x.subjectAltName, x.subject);
    return hosts.every((h) => matchesHost(h, names));
  } catch {
    return false;
  }
}

function subjectHosts(extra: string[]): string[] {
  const out = new Set<string>(['localhost', '127.0.0.1', '::1']);
  const name = hostname();
  if (name) out.add(name);
  for (const h of extra) {
    if (h === '0.0.0.0' || h === '::') {
      // A wildcard listener answers on every interface, so name them all.
      for (const list of Object.values(networkInterfaces())) {
        for (const ni of list ?? []) out.add(ni.address.split('%')[0]);
      }
    } else if (h) {
      out.add(h);
    }
  }
  return [...out];
}

function generate(hosts: string[], days: number): Promise<{ private: string; cert: string }> {
  const selfsigned = createRequire(import.meta.url)('selfsigned') as SelfsignedModule;
  const altNames = hosts.map((h) => (isIP(h) ? { type: 7, ip: h } : { type: 2, value: h }));
  const commonName = hosts.find((h) => !isIP(h) && h !== 'localhost') ?? 'localhost';
  return new Promise((resolve, reject) => {
    // With a callback, node-forge uses Node's native key generation, which is fast.
    selfsigned.generate(
      [{ name: 'commonName', value: commonName }, { name: 'organizationName', value: 'Switchboard' }],
      {
        days,
        keySize: 2048,
        algorithm: 'sha256',
        extensions: [
          { name: 'basicConstraints', cA: false },
          { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
          { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
          { name: 'subjectAltName', altNames },
        ],
      },
      (err, pems) => (err ? reject(new Error(`Could not generate the TLS certificate: ${err.message}`)) : resolve(pems)),
    );
  });
}
