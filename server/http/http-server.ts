/**
 * The HTTP server: the JSON API under /api/v1, the WebSocket upgrade at
 * /api/v1/live, and the built web UI for everything else.
 */
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { listenOrExplain } from './listen.js';
import { serveStatic } from './static-files.js';

/** A route answers with JSON, at once or later (a history query). */
export type JsonRoute = (url: URL) => unknown;

/** Thrown by a route for a client error: the status and every problem go back as JSON. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly problems: string[] = [],
  ) {
    super(message);
  }
}

export interface HttpServerOptions {
  host: string;
  port: number;
  webDir: string;
  routes: Record<string, JsonRoute>;
  onUpgrade: (req: IncomingMessage, socket: import('node:stream').Duplex, head: Buffer) => void;
}

export class HttpServer {
  private server: Server | undefined;

  constructor(private readonly opts: HttpServerOptions) {}

  /** Returns the URL it listens on, with the real port when 0 was asked for. */
  async start(): Promise<string> {
    const server = createServer((req, res) => this.handle(req, res));
    server.on('upgrade', (req, socket, head) => {
      if (new URL(req.url ?? '/', 'http://local').pathname === '/api/v1/live') this.opts.onUpgrade(req, socket, head);
      else socket.destroy();
    });
    this.server = server;
    await listenOrExplain(server, this.opts.host, this.opts.port, 'HTTP', '--port or KILOWATCH_PORT');
    const { port } = server.address() as AddressInfo;
    return `http://${this.opts.host.includes(':') ? `[${this.opts.host}]` : this.opts.host}:${port}`;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://local');
    const path = url.pathname;
    if (!path.startsWith('/api/')) return serveStatic(this.opts.webDir, req, res);
    const route = this.opts.routes[path];
    if (!route) return json(res, 404, { error: `no such endpoint: ${path}` });
    if (req.method !== 'GET') return json(res, 405, { error: `${req.method} is not allowed on ${path}` });
    const fail = (err: unknown) => {
      if (err instanceof HttpError) json(res, err.status, { error: err.message, problems: err.problems });
      else json(res, 500, { error: (err as Error).message });
    };
    try {
      const body = route(url);
      if (body instanceof Promise) body.then((b) => json(res, 200, b), fail);
      else json(res, 200, body);
    } catch (err) {
      fail(err);
    }
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(text);
}
