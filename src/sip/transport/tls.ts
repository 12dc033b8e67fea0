/**
 * TLS sockets for SIP (RFC 3261 §26.2); the connection logic itself lives in
 * tcp.ts. Outbound connections verify the peer: its chain against the system
 * store plus the configured CAs, its name the RFC 5922 way (tls-names.ts)
 * against the host we meant to reach. Inbound connections may ask clients
 * for a certificate.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { isIP } from 'node:net';
import {
  connect as tlsConnect,
  createSecureContext,
  createServer as tlsCreateServer,
  rootCertificates,
  type SecureContext,
  type Server,
  type TLSSocket,
} from 'node:tls';
import { hostPort } from '../../util/listen.js';
import { certificateNames, hostMismatch, presentedNames } from './tls-names.js';
import type { Peer } from './types.js';

export interface TlsCredentials {
  cert: string;
  key: string;
}

/** Whether inbound TLS asks phones for a certificate, and whether it insists. */
export type ClientCertMode = 'none' | 'request' | 'require';

/**
 * An outbound TLS peer whose certificate was refused: `problem` says what is
 * wrong with it in words (`self-signed certificate`, `certificate has
 * expired`, `certificate is for other.example, not 127.0.0.1`).
 */
export class TlsVerifyError extends Error {
  override name = 'TlsVerifyError';
  constructor(
    /** host:port dialled. */
    readonly peer: string,
    /** The name (or address) the certificate was checked against. */
    readonly identity: string,
    readonly problem: string,
    /** OpenSSL's code (`DEPTH_ZERO_SELF_SIGNED_CERT`), or `HOSTNAME_MISMATCH`. */
    readonly code: string,
  ) {
    super(`TLS certificate of ${peer} rejected: ${problem}`);
  }
}

/** OpenSSL verification codes in the words users search for. */
const PROBLEMS: Record<string, string> = {
  DEPTH_ZERO_SELF_SIGNED_CERT: 'self-signed certificate',
  SELF_SIGNED_CERT_IN_CHAIN: 'self-signed certificate in the chain (its root CA is not trusted)',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'certificate signed by an unknown CA',
  UNABLE_TO_GET_ISSUER_CERT: 'certificate signed by an unknown CA',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'certificate signed by an unknown CA (unable to verify the first certificate)',
  CERT_HAS_EXPIRED: 'certificate has expired',
  CERT_NOT_YET_VALID: 'certificate is not yet valid',
  CERT_REVOKED: 'certificate has been revoked',
  CERT_SIGNATURE_FAILURE: 'certificate signature is invalid',
  CERT_UNTRUSTED: 'certificate is not trusted',
  CERT_REJECTED: 'certificate is rejected',
  INVALID_CA: 'a CA certificate in the chain is not valid as a CA',
  INVALID_PURPOSE: 'certificate is not meant for this use (key usage)',
  UNSPECIFIED: 'no certificate presented',
};

export function problemWords(code: string, cert: X509Certificate | undefined): string {
  const words = PROBLEMS[code] ?? code.toLowerCase().replace(/_/g, ' ');
  if (!cert) return words;
  if (code === 'CERT_HAS_EXPIRED') return `${words} (valid until ${cert.validTo})`;
  if (code === 'CERT_NOT_YET_VALID') return `${words} (valid from ${cert.validFrom})`;
  if (code === 'DEPTH_ZERO_SELF_SIGNED_CERT') return `${words} (${subjectOf(cert)})`;
  return words;
}

function subjectOf(cert: X509Certificate): string {
  const names = presentedNames(certificateNames(cert.subjectAltName, cert.subject));
  return names.length ? `for ${names.slice(0, 3).join(', ')}${names.length > 3 ? ', ...' : ''}` : cert.subject.replace(/\n/g, ', ');
}

/** node reports the verification result as a code string, though its typings say Error. */
function codeOf(err: unknown): string {
  if (typeof err === 'string') return err;
  if (err instanceof Error) return (err as NodeJS.ErrnoException).code ?? err.message;
  return 'UNSPECIFIED';
}

export interface TlsPolicyOptions {
  /** PEM files of CAs trusted beside the system store. */
  caFiles?: string[];
  /** false: outbound TLS accepts any certificate (the caller warns about it). */
  verify?: boolean;
  clientCerts?: ClientCertMode;
}

/** What an inbound TLS client presented, for the log (client certificates requested). */
export interface ClientCertReport {
  /** undefined when the client is let in; otherwise why it is refused. */
  refused?: string;
  presented: boolean;
  subject?: string;
  issuer?: string;
  verified: boolean;
  problem?: string;
}

/**
 * The trust settings of one transport layer: the CA list (read once), the
 * client context built from it (made once and shared by every dial), and
 * the server options for inbound client certificates.
 */
export class TlsPolicy {
  readonly verify: boolean;
  readonly clientCerts: ClientCertMode;
  private readonly caFiles: string[];
  private extraCas: string[] = [];
  private clientContext: SecureContext | undefined;
  private ownCreds: TlsCredentials | undefined;

  constructor(opts: TlsPolicyOptions = {}) {
    this.verify = opts.verify ?? true;
    this.clientCerts = opts.clientCerts ?? 'none';
    this.caFiles = opts.caFiles ?? [];
  }

  /** Reads the CA files; errors name the file. */
  async load(): Promise<void> {
    const pems: string[] = [];
    for (const file of this.caFiles) pems.push(...(await readCaFile(file)));
    this.extraCas = pems;
    this.clientContext = undefined;
  }

  /** Our own certificate, shown to servers that ask for a client certificate. */
  useCredentials(creds: TlsCredentials): void {
    this.ownCreds = creds;
    this.clientContext = undefined;
  }

  serverOptions(creds: TlsCredentials): Parameters<typeof tlsCreateServer>[0] {
    const asks = this.clientCerts !== 'none';
    return {
      cert: creds.cert,
      key: creds.key,
      minVersion: 'TLSv1.2',
      requestCert: asks,
      // The decision is taken in checkClient, so a refused client is logged with its reason.
      rejectUnauthorized: false,
      // Client certificates are checked against the configured CAs (the system store when there are none).
      ca: asks ? (this.extraCas.length ? this.extraCas : [...systemRoots()]) : undefined,
    };
  }

  /** Decides on an inbound client once its handshake is done; undefined when nothing was asked. */
  checkClient(socket: TLSSocket): ClientCertReport | undefined {
    if (this.clientCerts === 'none') return undefined;
    const cert = socket.getPeerX509Certificate();
    const report: ClientCertReport = {
      presented: cert !== undefined,
      subject: cert ? cert.subject.replace(/\n/g, ', ') : undefined,
      issuer: cert ? cert.issuer.replace(/\n/g, ', ') : undefined,
      verified: socket.authorized,
    };
    if (!socket.authorized) report.problem = cert ? problemWords(codeOf(socket.authorizationError), cert) : 'no certificate presented';
    if (this.clientCerts === 'require') {
      if (!cert) report.refused = 'no client certificate (sip.tls.client_certs: require)';
      else if (!socket.authorized && this.verify) report.refused = `client certificate not accepted: ${report.problem ?? 'unverified'}`;
    }
    return report;
  }

  /** Dials a TLS peer; `onConnected` runs once the handshake is done and the certificate accepted. */
  dial(dest: Peer, onConnected: () => void): TLSSocket {
    const identity = dest.serverName ?? dest.address;
    const socket = tlsConnect({
      host: dest.address,
      port: dest.port,
      secureContext: this.context(),
      // SNI carries host names only, never IP literals (RFC 6066 §3).
      servername: isIP(identity) ? undefined : identity,
      // Checked below, so the error names the problem in words and the name the SIP way.
      rejectUnauthorized: false,
      checkServerIdentity: () => undefined,
    });
    socket.setNoDelay(true);
    socket.once('secureConnect', () => {
      const problem = this.verify ? peerProblem(socket, identity) : undefined;
      if (problem) {
        socket.destroy(new TlsVerifyError(hostPort(dest), identity, problem.words, problem.code));
        return;
      }
      onConnected();
    });
    return socket;
  }

  private context(): SecureContext {
    this.clientContext ??= createSecureContext({
      minVersion: 'TLSv1.2',
      // node's `ca` replaces its store, so the system roots go first and the configured CAs beside them.
      ca: [...systemRoots(), ...this.extraCas],
      cert: this.ownCreds?.cert,
      key: this.ownCreds?.key,
    });
    return this.clientContext;
  }
}

/** Where distributions keep the trust store their administrators manage (update-ca-certificates and the like). */
const SYSTEM_BUNDLES = ['/etc/ssl/certs/ca-certificates.crt', '/etc/pki/tls/certs/ca-bundle.crt', '/etc/ssl/cert.pem'];
let systemRootsCache: readonly string[] | undefined;

/**
 * The system's trust store: the operating system's CA bundle, which holds
 * what its administrator added (a company CA); node's bundled Mozilla roots
 * where there is none. Read once per process.
 */
export function systemRoots(): readonly string[] {
  if (systemRootsCache) return systemRootsCache;
  for (const file of SYSTEM_BUNDLES) {
    try {
      const pem = readFileSync(file, 'utf8');
      if (pem.includes('-----BEGIN CERTIFICATE-----')) return (systemRootsCache = [pem]);
    } catch {
      // not this distribution's path
    }
  }
  return (systemRootsCache = rootCertificates);
}

function peerProblem(socket: TLSSocket, identity: string): { words: string; code: string } | undefined {
  const cert = socket.getPeerX509Certificate();
  if (!socket.authorized) {
    const code = codeOf(socket.authorizationError);
    return { words: problemWords(code, cert), code };
  }
  if (!cert) return { words: 'no certificate presented', code: 'UNSPECIFIED' };
  const mismatch = hostMismatch(identity, certificateNames(cert.subjectAltName, cert.subject));
  return mismatch ? { words: mismatch, code: 'HOSTNAME_MISMATCH' } : undefined;
}

/** The certificates of a PEM file, each checked to parse. */
async function readCaFile(file: string): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new Error(`Cannot read the TLS CA file ${file}: ${(err as Error).message}`);
  }
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new Error(`The TLS CA file ${file} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  for (const [i, pem] of blocks.entries()) {
    try {
      new X509Certificate(pem);
    } catch (err) {
      throw new Error(`The TLS CA file ${file}: certificate ${i + 1} does not parse: ${(err as Error).message}`);
    }
  }
  return blocks;
}

export function createTlsServer(
  options: Parameters<typeof tlsCreateServer>[0],
  onSocket: (socket: TLSSocket) => void,
  onHandshakeError: (err: Error, socket: Socket) => void,
): Server {
  const server = tlsCreateServer(options, onSocket);
  // A client that fails the handshake (port scanner, wrong protocol) only loses its own socket.
  server.on('tlsClientError', onHandshakeError);
  return server;
}
