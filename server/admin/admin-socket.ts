/**
 * The server's local admin socket: a Unix socket in the data dir, readable
 * only by the server's user (mode 0600), for commands that must run inside
 * the server because only it may open the DuckDB file (`kilowatch backup`).
 * One JSON request per connection, one JSON answer; requests are bounded.
 */
import { chmodSync, existsSync, unlinkSync } from 'node:fs';
import { type Server, connect, createServer } from 'node:net';
import { join, resolve } from 'node:path';

/** Where a server's admin socket lives: beside its DuckDB file. */
export function adminSocketPath(dataDir: string): string {
  return join(resolve(dataDir), 'kilowatch.sock');
}

export type AdminHandler = (request: Record<string, unknown>) => Promise<Record<string, unknown>>;

const MAX_REQUEST_BYTES = 64 * 1024;

export class AdminSocket {
  private server: Server | undefined;

  constructor(
    readonly path: string,
    private readonly handlers: Record<string, AdminHandler>,
    private readonly log: (line: string) => void,
  ) {}

  /** Adds a command once the part it needs has started (host forget needs the broker connection). */
  register(cmd: string, handler: AdminHandler): void {
    this.handlers[cmd] = handler;
  }

  async start(): Promise<void> {
    // A socket file left by a server that died: the DuckDB lock already proved no other server uses this data dir.
    if (existsSync(this.path)) unlinkSync(this.path);
    const server = createServer((socket) => {
      let text = '';
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => {
        text += chunk;
        if (text.length > MAX_REQUEST_BYTES) socket.end(JSON.stringify({ ok: false, error: 'request too large' }) + '\n');
        else if (text.includes('\n')) void this.answer(text.slice(0, text.indexOf('\n'))).then((a) => socket.end(JSON.stringify(a) + '\n'));
      });
      socket.on('error', () => undefined); // a client that went away mid-answer is its own problem
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.path, () => resolve());
    });
    chmodSync(this.path, 0o600);
  }

  private async answer(line: string): Promise<Record<string, unknown>> {
    let request: Record<string, unknown>;
    try {
      request = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return { ok: false, error: 'the request is not JSON' };
    }
    const handler = typeof request.cmd === 'string' ? this.handlers[request.cmd] : undefined;
    if (!handler) return { ok: false, error: `unknown command ${JSON.stringify(request.cmd)}; known: ${Object.keys(this.handlers).join(', ')}` };
    try {
      return { ok: true, ...(await handler(request)) };
    } catch (err) {
      this.log(`server: admin ${request.cmd} failed: ${(err as Error).message}`);
      return { ok: false, error: (err as Error).message };
    }
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    if (existsSync(this.path)) unlinkSync(this.path);
  }
}

/** Sends one request to a server's admin socket and returns its answer. */
export function adminRequest(path: string, request: Record<string, unknown>, timeoutMs: number): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    let text = '';
    const timer = setTimeout(() => socket.destroy(new Error(`no answer from ${path} in ${timeoutMs} ms`)), timeoutMs);
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write(JSON.stringify(request) + '\n'));
    socket.on('data', (chunk: string) => (text += chunk));
    socket.on('end', () => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(text) as Record<string, unknown>);
      } catch {
        reject(new Error(`an unreadable answer from ${path}: ${text.slice(0, 200)}`));
      }
    });
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}
