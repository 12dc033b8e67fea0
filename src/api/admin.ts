/**
 * The local admin endpoint `switchboard status`, `trace` and `bans` talk to,
 * and Prometheus scrapes (`/metrics`). It listens on loopback by default:
 * whoever can reach it may lift bans, as whoever can reach Kamailio's
 * control socket may.
 */
import http from 'node:http';
import { uriHost } from '../util/listen.js';

export type AdminMethod = 'GET' | 'POST' | 'DELETE';

export interface AdminRequest {
  method: AdminMethod;
  /** Path segments after the route name, decoded. */
  parts: string[];
  query: URLSearchParams;
}

/** A body that is not JSON (the Prometheus text format). */
export class AdminText {
  constructor(
    readonly body: string,
    readonly contentType: string,
  ) {}
}

/** An answer other than 200: a 4xx with a message naming what was wrong. */
export class AdminError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'AdminError';
  }
}

/** Resolves with the body: JSON-able data, AdminText, or undefined for 404. */
export type AdminRoute = (req: AdminRequest) => Promise<unknown>;

export class AdminServer {
  private server?: http.Server;
  private readonly routes = new Map<string, AdminRoute>();

  /** `name` is the first path segment; `method` defaults to GET. */
  route(name: string, fn: AdminRoute, method: AdminMethod = 'GET'): void {
    this.routes.set(`${method} ${name}`, fn);
  }

  async listen(address: string, port: number): Promise<{ address: string; port: number }> {
    const server = http.createServer((req, res) => this.handle(req, res));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => {
        reject(
          err.code === 'EADDRINUSE'
            ? new Error(`admin address ${address}:${port} is in use: is another switchboard running? Stop it or change admin.listen.`)
            : err,
        );
      });
      server.listen(port, address, () => resolve());
    });
    const a = server.address();
    return typeof a === 'object' && a ? { address: a.address, port: a.port } : { address, port };
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (!this.server) return resolve();
      this.server.closeAllConnections();
      this.server.close(() => resolve());
    });
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://admin');
    const send = (status: number, body: unknown): void => {
      if (body instanceof AdminText) {
        res.writeHead(status, { 'content-type': body.contentType });
        res.end(body.body);
        return;
      }
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    let parts: string[];
    try {
      parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    } catch {
      return send(400, { error: `bad percent-encoding in ${url.pathname}` });
    }
    const method = req.method ?? 'GET';
    const name = parts[0] ?? '';
    const fn = this.routes.get(`${method} ${name}`);
    if (!fn) {
      const other = (['GET', 'POST', 'DELETE'] as const).filter((m) => this.routes.has(`${m} ${name}`));
      if (other.length) return send(405, { error: `${method} is not served at /${name}; use ${other.join(' or ')}` });
      return send(404, { error: `unknown path ${url.pathname}; try /status, /traces, /bans, /pbx/channels or /metrics` });
    }
    // Bodies are not read: every route takes its input from the path and the query.
    req.resume();
    fn({ method: method as AdminMethod, parts: parts.slice(1), query: url.searchParams }).then(
      (body) => (body === undefined ? send(404, { error: `nothing at ${url.pathname}` }) : send(200, body)),
      (err: unknown) => {
        if (err instanceof AdminError) send(err.status, { error: err.message });
        else send(500, { error: err instanceof Error ? err.message : String(err) });
      },
    );
  }
}

/** Client side for the CLI: one request to the admin endpoint, with a clear error when nothing answers. */
export async function adminRequest(address: string, port: number, path: string, method: AdminMethod = 'GET'): Promise<unknown> {
  const host = uriHost(address);
  let res: Response;
  try {
    res = await fetch(`http://${host}:${port}${path}`, { method, signal: AbortSignal.timeout(5000) });
  } catch {
    throw new AdminUnreachableError(
      `no switchboard answers on its admin address ${host}:${port}. Start it with "npm start" or "switchboard serve --config FILE", ` +
        'or pass the same --config you started it with.',
    );
  }
  const body = (await res.json()) as unknown;
  if (!res.ok) {
    const msg = typeof body === 'object' && body && 'error' in body ? String((body as { error: unknown }).error) : res.statusText;
    throw new AdminError(res.status, msg);
  }
  return body;
}

export function adminGet(address: string, port: number, path: string): Promise<unknown> {
  return adminRequest(address, port, path, 'GET');
}

/** Nothing listens on the admin address: the server is not running (or runs with another config). */
export class AdminUnreachableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AdminUnreachableError';
  }
}
