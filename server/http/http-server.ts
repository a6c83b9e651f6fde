/**
 * The HTTP server: the JSON API under /api/v1, the WebSocket upgrade at
 * /api/v1/live, and the built web UI for everything else. Plain GET routes
 * are keyed by exact path; routes with a method, path parameters or a JSON
 * body (the job events of POST /api/v1/jobs) are listed in `methodRoutes`.
 */
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Authenticator } from '../auth/authenticator.js';
import { LOCAL, type Principal, type Role, allows } from '../auth/principal.js';
import { listenOrExplain } from './listen.js';
import { serveStatic } from './static-files.js';

/** A route answers with JSON, at once or later (a history query); `principal` is who asked (scoping). */
export type JsonRoute = (url: URL, principal: Principal) => unknown;

export interface RouteRequest {
  url: URL;
  /** The `{name}` segments of the route's path, percent-decoded. */
  params: Readonly<Record<string, string>>;
  /** A POST's or PUT's parsed JSON body; undefined when the body is empty. */
  body: unknown;
  /** Who asked: LOCAL when authentication is off. */
  principal: Principal;
}

export interface MethodRoute {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** e.g. '/api/v1/jobs/{id}/end': a `{name}` segment matches one non-empty path segment. */
  path: string;
  handle: (req: RouteRequest) => unknown;
  /** The least role allowed; default viewer for GET, operator for the others. */
  role?: Role;
}

/** A raw route's answer: its own status, content type and text (Prometheus exposition, probes). */
export interface RawReply {
  status: number;
  contentType: string;
  body: string;
}

/** A GET route outside /api/ that answers text, not JSON: /metrics, /metrics/fleet, /healthz, /readyz. */
export type RawRoute = (url: URL) => RawReply | Promise<RawReply>;

/** A route's answer when it is not 200, e.g. 201 for a created job. */
export class JsonReply {
  constructor(
    readonly status: number,
    readonly body: unknown,
  ) {}
}

/** Bodies are small JSON documents (a job start); anything larger is refused before it is buffered. */
export const DEFAULT_MAX_BODY_BYTES = 64 * 1024;

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
  /** GET routes by exact path. */
  routes: Record<string, JsonRoute>;
  methodRoutes?: readonly MethodRoute[];
  /** GET and HEAD routes by exact path, answering text; checked before the API and the static files. */
  rawRoutes?: Readonly<Record<string, RawRoute>>;
  /** Default DEFAULT_MAX_BODY_BYTES. */
  maxBodyBytes?: number;
  onUpgrade: (req: IncomingMessage, socket: import('node:stream').Duplex, head: Buffer, principal: Principal) => void;
  /** Authentication and roles; without it every caller is LOCAL (an admin). */
  auth?: Authenticator;
  /** PEM certificate and key: HTTPS and WSS instead of HTTP and WS. */
  tls?: { cert: Buffer; key: Buffer };
}

export class HttpServer {
  private server: Server | undefined;

  constructor(private readonly opts: HttpServerOptions) {}

  /** Returns the URL it listens on, with the real port when 0 was asked for. */
  async start(): Promise<string> {
    const handler = (req: IncomingMessage, res: ServerResponse) => this.handle(req, res);
    const server: Server = this.opts.tls ? createTlsServer({ cert: this.opts.tls.cert, key: this.opts.tls.key }, handler) : createServer(handler);
    // A request Node cannot even parse (a broken request line) is answered here, in JSON like every other refusal.
    server.on('clientError', (_err, socket) => {
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n{"error":"malformed HTTP request"}');
      else socket.destroy();
    });
    server.on('upgrade', (req, socket, head) => {
      if (new URL(req.url ?? '/', 'http://local').pathname !== '/api/v1/live') return void socket.destroy();
      const who = this.opts.auth ? this.opts.auth.authenticateUpgrade(req) : { ok: true as const, principal: LOCAL };
      if (!who.ok) {
        // Refused before the upgrade: the browser's WebSocket closes with an error, nothing is streamed.
        socket.end(`HTTP/1.1 ${who.status} ${who.status === 401 ? 'Unauthorized' : 'Forbidden'}\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\n${who.reason}\n`);
        return;
      }
      this.opts.onUpgrade(req, socket, head, who.principal);
    });
    this.server = server;
    await listenOrExplain(server, this.opts.host, this.opts.port, 'HTTP', '--port or KILOWATCH_PORT');
    const { port } = server.address() as AddressInfo;
    return `${this.opts.tls ? 'https' : 'http'}://${this.opts.host.includes(':') ? `[${this.opts.host}]` : this.opts.host}:${port}`;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://local');
    const path = url.pathname;
    const raw = this.opts.rawRoutes && Object.hasOwn(this.opts.rawRoutes, path) ? this.opts.rawRoutes[path] : undefined;
    if (raw) {
      // Probes answer anyone (a load balancer has no token); the metrics carry data, so they need a viewer.
      if (path.startsWith('/metrics') && this.opts.auth) {
        const who = this.opts.auth.authenticate(req);
        if (!who.ok) return json(res, who.status, { error: who.reason });
      }
      return this.raw(raw, url, req, res);
    }
    if (!path.startsWith('/api/')) return serveStatic(this.opts.webDir, req, res);
    const fail = (err: unknown) => {
      if (err instanceof HttpError) {
        // A body refused for its size is left unread: close the connection rather than drain it.
        if (err.status === 413) res.setHeader('connection', 'close');
        json(res, err.status, { error: err.message, problems: err.problems });
      } else json(res, 500, { error: (err as Error).message });
    };
    const answer = (body: unknown) => (body instanceof JsonReply ? json(res, body.status, body.body) : json(res, 200, body));
    try {
      if (path === '/api/v1/login' || path === '/api/v1/logout' || path === '/api/v1/whoami') return void this.session(path, req, res, fail);
      const who = this.opts.auth ? this.opts.auth.authenticate(req) : { ok: true as const, principal: LOCAL };
      if (!who.ok) return json(res, who.status, { error: who.reason });
      const principal = who.principal;
      const candidates: { method: string; role: Role; run: (body: unknown) => unknown }[] = [];
      const get = this.opts.routes[path];
      if (get) candidates.push({ method: 'GET', role: 'viewer', run: () => get(url, principal) });
      for (const r of this.opts.methodRoutes ?? []) {
        const params = matchPath(r.path, path);
        if (params) candidates.push({ method: r.method, role: r.role ?? (r.method === 'GET' ? 'viewer' : 'operator'), run: (body) => r.handle({ url, params, body, principal }) });
      }
      if (candidates.length === 0) return json(res, 404, { error: `no such endpoint: ${path}` });
      const route = candidates.find((c) => c.method === req.method);
      if (!route) {
        res.setHeader('allow', [...new Set(candidates.map((c) => c.method))].join(', '));
        return json(res, 405, { error: `${req.method} is not allowed on ${path}` });
      }
      if (!allows(principal, route.role)) return json(res, 403, { error: `${req.method} ${path} needs the ${route.role} role; ${principal.name} is a ${principal.role}` });
      const result = req.method === 'POST' || req.method === 'PUT'
        ? readJsonBody(req, this.opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES).then((body) => route.run(body))
        : route.run(undefined);
      if (result instanceof Promise) result.then(answer, fail);
      else answer(result);
    } catch (err) {
      fail(err);
    }
  }

  /** Login (a token for an HttpOnly session cookie), logout, and who the caller is. */
  private session(path: string, req: IncomingMessage, res: ServerResponse, fail: (err: unknown) => void): void {
    const auth = this.opts.auth;
    if (path === '/api/v1/whoami') {
      const who = auth ? auth.authenticate(req) : { ok: true as const, principal: LOCAL };
      return who.ok ? json(res, 200, { ...who.principal, auth: auth?.enabled ?? false }) : json(res, who.status, { error: who.reason, auth: true });
    }
    if (req.method !== 'POST') return json(res, 405, { error: `${req.method} is not allowed on ${path}` });
    if (path === '/api/v1/logout') {
      if (auth) res.setHeader('set-cookie', auth.logout(req));
      return json(res, 200, { logged_out: true });
    }
    readJsonBody(req, 4096).then((body) => {
      const token = typeof body === 'object' && body !== null ? (body as Record<string, unknown>).token : undefined;
      if (typeof token !== 'string') throw new HttpError(400, 'bad login', ['token: the API token is required']);
      if (!auth?.enabled) return json(res, 200, { ...LOCAL, auth: false });
      const s = auth.login(token);
      if (!s) return json(res, 401, { error: 'the token is unknown or revoked' });
      res.setHeader('set-cookie', s.cookie);
      json(res, 200, { ...s.principal, auth: true });
    }).catch(fail);
  }

  /** A raw route answers GET and HEAD (Node sends no body for HEAD); a failure is a JSON 500 like the API's. */
  private raw(route: RawRoute, url: URL, req: IncomingMessage, res: ServerResponse): void {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      return json(res, 405, { error: `${req.method} is not allowed on ${url.pathname}` });
    }
    const send = (r: RawReply) => {
      res.writeHead(r.status, { 'content-type': r.contentType, 'cache-control': 'no-store' });
      res.end(r.body);
    };
    const fail = (err: unknown) => json(res, 500, { error: (err as Error).message });
    try {
      const reply = route(url);
      if (reply instanceof Promise) reply.then(send, fail);
      else send(reply);
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

/**
 * The parameters of `path` under `pattern`, or undefined when it does not
 * match. Segments are split before they are decoded, so an id holding `/`
 * arrives as %2F and stays one segment; a broken escape is the client's error.
 */
export function matchPath(pattern: string, path: string): Record<string, string> | undefined {
  const want = pattern.split('/');
  const got = path.split('/');
  if (want.length !== got.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < want.length; i++) {
    const w = want[i]!;
    const g = got[i]!;
    if (!(w.startsWith('{') && w.endsWith('}'))) {
      if (w !== g) return undefined;
      continue;
    }
    if (g === '') return undefined;
    try {
      params[w.slice(1, -1)] = decodeURIComponent(g);
    } catch {
      throw new HttpError(400, `bad percent-encoding in ${path}`, [`${w.slice(1, -1)}: "${g}" is not valid percent-encoding`]);
    }
  }
  return params;
}

/** Reads a JSON body of at most `max` bytes; an empty body is undefined. */
function readJsonBody(req: IncomingMessage, max: number): Promise<unknown> {
  const declared = Number(req.headers['content-length']);
  if (declared > max) return Promise.reject(new HttpError(413, `the body is ${declared} bytes, more than ${max}`));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= max) return void chunks.push(chunk);
      req.off('data', onData);
      req.pause();
      reject(new HttpError(413, `the body is more than ${max} bytes`));
    };
    req.on('data', onData);
    req.once('error', reject);
    req.once('end', () => {
      if (size > max) return;
      const text = Buffer.concat(chunks).toString('utf8');
      if (text.trim() === '') return resolve(undefined);
      try {
        resolve(JSON.parse(text));
      } catch (err) {
        reject(new HttpError(400, 'the body is not JSON', [`body: ${(err as Error).message}`]));
      }
    });
  });
}
