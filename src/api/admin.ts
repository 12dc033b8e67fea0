/**
 * The local admin endpoint `switchboard status` and `switchboard trace` read
 * from. It listens on loopback by default and only serves read-only JSON.
 */
import http from 'node:http';

export type AdminRoute = (params: URLSearchParams, pathParts: string[]) => unknown;

export class AdminServer {
  private server?: http.Server;
  private readonly routes = new Map<string, AdminRoute>();

  route(name: string, fn: AdminRoute): void {
    this.routes.set(name, fn);
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
    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    const send = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.method !== 'GET') return send(405, { error: 'only GET is served here' });
    const fn = this.routes.get(parts[0] ?? '');
    if (!fn) return send(404, { error: `unknown path ${url.pathname}; try /status or /traces` });
    try {
      const body = fn(url.searchParams, parts.slice(1));
      if (body === undefined) return send(404, { error: `nothing at ${url.pathname}` });
      send(200, body);
    } catch (err) {
      send(500, { error: (err as Error).message });
    }
  }
}

/** Client side for the CLI: GET a path from the admin endpoint with a clear error when nothing answers. */
export async function adminGet(address: string, port: number, path: string): Promise<unknown> {
  const host = address.includes(':') ? `[${address}]` : address;
  let res: Response;
  try {
    res = await fetch(`http://${host}:${port}${path}`, { signal: AbortSignal.timeout(5000) });
  } catch {
    throw new Error(
      `no switchboard answers on its admin address ${host}:${port}. Start it with "npm start" or "switchboard serve --config FILE", ` +
        'or pass the same --config you started it with.',
    );
  }
  const body = (await res.json()) as unknown;
  if (!res.ok) {
    const msg = typeof body === 'object' && body && 'error' in body ? String((body as { error: unknown }).error) : res.statusText;
    throw new Error(msg);
  }
  return body;
}
