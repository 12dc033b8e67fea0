/**
 * The browser phone's files over HTTP: the handler the WebSocket listener's
 * HTTP side runs (SIP over WebSocket and the page share one port, so the page
 * can take its SIP server from its own origin).
 *
 * Only files inside the built page directory are served; a path that would
 * leave it (`..`, encoded slashes, backslashes, NUL) is refused before the
 * file system is asked.
 */
import { createReadStream, existsSync, promises as fs } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { detach, silentLogger, type Logger } from '../util/log.js';

/** One ICE server as RTCPeerConnection takes it (the same shape as webrtc.ice_servers after credentials are filled in). */
export interface PhoneIceServer {
  urls: string | string[];
  username?: string;
  credential?: string;
}

/** What the page fetches from /phone/config.json. */
export interface PhoneConfig {
  domain: string;
  iceServers: PhoneIceServer[];
  /** 'relay' forces TURN (tests with coturn); absent means the browser's default ('all'). */
  iceTransportPolicy?: 'all' | 'relay';
}

export interface ServePhoneOptions {
  /** The built page directory (dist/web/phone); see defaultPhoneRoot(). */
  root: string;
  /** Read on every request, so ICE credentials that expire (TURN REST) are fresh. */
  config: () => PhoneConfig;
  log?: Logger;
}

const PREFIX = '/phone/';

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
};

/**
 * The page may talk to its own origin and to any SIP WebSocket server the
 * user types in; it loads nothing from elsewhere (JsSIP is bundled).
 */
const CSP = "default-src 'self'; connect-src 'self' ws: wss:; media-src 'self' blob: mediastream:; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

/** dist/web/phone, found from this module (dist/src/web/static.js); from src/ under tsx, the built copy in dist/. */
export function defaultPhoneRoot(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const built = path.resolve(here, '..', '..', 'web', 'phone');
  const fromSource = path.resolve(here, '..', '..', 'dist', 'web', 'phone');
  return !existsSync(built) && existsSync(fromSource) ? fromSource : built;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** The file under `root` a request path names, or an HttpError saying why not. */
export function resolvePhonePath(root: string, urlPath: string): string {
  let rel = urlPath.slice(PREFIX.length);
  try {
    rel = decodeURIComponent(rel);
  } catch {
    throw new HttpError(400, `bad percent-encoding in ${urlPath}`);
  }
  if (rel.includes('\0') || rel.includes('\\')) throw new HttpError(400, `bad character in ${urlPath}`);
  const parts = rel.split('/');
  if (parts.some((p) => p === '..' || p === '.' || p.startsWith('.'))) throw new HttpError(404, `nothing at ${urlPath}`);
  if (rel === '') rel = 'index.html';
  const base = path.resolve(root);
  const file = path.resolve(base, rel);
  // Defence in depth: whatever got through above must still land inside root.
  if (!file.startsWith(base + path.sep)) throw new HttpError(404, `nothing at ${urlPath}`);
  return file;
}

function sendText(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff', ...headers });
  res.end(text + '\n');
}

export function servePhone(opts: ServePhoneOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const log = opts.log ?? silentLogger;
  const root = path.resolve(opts.root);

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const raw = req.url ?? '/';
    const urlPath = raw.split(/[?#]/, 1)[0] ?? '/';
    // Bodies are never read: nothing here takes input but the path.
    req.resume();
    if (urlPath === '/') return sendText(res, 302, 'the phone is at /phone/', { location: PREFIX });
    if (urlPath !== '/phone' && !urlPath.startsWith(PREFIX)) throw new HttpError(404, `nothing at ${urlPath}; the phone is at /phone/`);
    if (method !== 'GET' && method !== 'HEAD') throw new HttpError(405, `${method} is not served here; use GET`);
    const head = method === 'HEAD';

    if (urlPath === PREFIX + 'config.json') {
      const body = JSON.stringify(opts.config());
      res.writeHead(200, {
        'content-type': 'application/json',
        'content-length': String(Buffer.byteLength(body)),
        'cache-control': 'no-store',
        'x-content-type-options': 'nosniff',
      });
      res.end(head ? undefined : body);
      return;
    }

    // index.html names its files by absolute path, so /phone works as well as /phone/.
    const file = urlPath === '/phone' ? path.join(root, 'index.html') : resolvePhonePath(root, urlPath);
    let size: number;
    try {
      const st = await fs.stat(file);
      if (!st.isFile()) throw new HttpError(404, `nothing at ${urlPath}`);
      size = st.size;
    } catch (err) {
      if (err instanceof HttpError) throw err;
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') {
        const hint = existsSync(root) ? '' : ' (the page is not built: run npm run build)';
        throw new HttpError(404, `nothing at ${urlPath}${hint}`);
      }
      throw err;
    }
    const type = CONTENT_TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream';
    const headers: Record<string, string> = {
      'content-type': type,
      'content-length': String(size),
      // The page and its bundle change with every build and carry no version in their names.
      'cache-control': 'no-cache',
      'x-content-type-options': 'nosniff',
    };
    if (type.startsWith('text/html')) headers['content-security-policy'] = CSP;
    res.writeHead(200, headers);
    if (head) {
      res.end();
      return;
    }
    await new Promise<void>((resolve, reject) => {
      const stream = createReadStream(file);
      stream.once('error', reject);
      stream.once('end', resolve);
      stream.pipe(res);
    });
  }

  return (req, res) => {
    detach(
      serve(req, res).catch((err: unknown) => {
        if (err instanceof HttpError) {
          if (!res.headersSent) sendText(res, err.status, err.message, err.status === 405 ? { allow: 'GET, HEAD' } : {});
          return;
        }
        log.warn({ err, url: req.url }, 'phone page request failed');
        if (!res.headersSent) sendText(res, 500, 'internal error');
        else res.destroy();
      }),
      log,
      'phone page request',
    );
  };
}
