/**
 * Turns a request into a principal, or into a reason it has none.
 * - `Authorization: Bearer <token>`: scripts, the CLI, Prometheus;
 * - the `kw_session` cookie: browsers, after POST /api/v1/login exchanged a
 *   token for it. It is HttpOnly (no script reads it) and SameSite=Strict;
 * - a trusted reverse proxy's user header (an OIDC proxy in front), accepted
 *   only from the configured proxy addresses.
 * A WebSocket cannot carry an Authorization header from a browser, so the
 * upgrade is checked by cookie, and its Origin must be this server's own
 * (or a configured one): a page elsewhere cannot ride the cookie.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { LOCAL, type Principal, isRole } from './principal.js';
import type { TokenStore } from './token-store.js';

export interface AuthOptions {
  /** 'none': everyone is LOCAL (loopback, or --insecure); 'tokens': tokens, sessions and the proxy header. */
  mode: 'none' | 'tokens';
  /** A header naming the user, set by a trusted proxy (e.g. X-Forwarded-User); empty: none. */
  proxyHeader: string;
  /** The header with the proxy user's role (viewer when absent or unknown). */
  proxyRoleHeader: string;
  /** Remote addresses the proxy header is accepted from. */
  proxyAddresses: readonly string[];
  /** Origins a WebSocket may come from besides the server's own. */
  allowedOrigins: readonly string[];
  sessionTtlMs: number;
  /** Whether cookies are sent only over TLS. */
  secure: boolean;
}

export const SESSION_COOKIE = 'kw_session';
const MAX_SESSIONS = 10_000;

export type AuthResult = { ok: true; principal: Principal } | { ok: false; status: 401 | 403; reason: string };

function cookie(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** `::ffff:127.0.0.1` is how Node shows an IPv4 peer on a dual-stack socket. */
const bare = (addr: string | undefined) => (addr ?? '').replace(/^::ffff:/, '');

export class Authenticator {
  private readonly sessions = new Map<string, { principal: Principal; expires: number }>();

  constructor(
    private readonly opts: AuthOptions,
    private readonly tokens: TokenStore,
    private readonly now: () => number,
  ) {}

  get enabled(): boolean {
    return this.opts.mode !== 'none';
  }

  authenticate(req: IncomingMessage): AuthResult {
    if (!this.enabled) return { ok: true, principal: LOCAL };
    const auth = req.headers.authorization;
    if (auth !== undefined) {
      const m = /^Bearer\s+(\S+)$/i.exec(auth);
      const p = m ? this.tokens.verify(m[1]!) : undefined;
      return p ? { ok: true, principal: p } : { ok: false, status: 401, reason: 'the bearer token is unknown or revoked' };
    }
    const sid = cookie(req, SESSION_COOKIE);
    if (sid !== undefined) {
      const s = this.sessions.get(sid);
      if (s && s.expires > this.now()) return { ok: true, principal: s.principal };
      this.sessions.delete(sid);
      return { ok: false, status: 401, reason: 'the session has expired: log in again' };
    }
    if (this.opts.proxyHeader) {
      const user = req.headers[this.opts.proxyHeader.toLowerCase()];
      if (typeof user === 'string' && user !== '') {
        if (!this.opts.proxyAddresses.includes(bare(req.socket.remoteAddress))) return { ok: false, status: 403, reason: `${this.opts.proxyHeader} is accepted only from the configured proxy addresses` };
        const role = req.headers[this.opts.proxyRoleHeader.toLowerCase()];
        return { ok: true, principal: { name: user, role: isRole(role) ? role : 'viewer', via: 'proxy' } };
      }
    }
    return { ok: false, status: 401, reason: 'authentication required: a bearer token, or log in (POST /api/v1/login)' };
  }

  /** A WebSocket upgrade: authenticated, and from this server's own pages (or an allowed origin). */
  authenticateUpgrade(req: IncomingMessage): AuthResult {
    const r = this.authenticate(req);
    if (!r.ok || !this.enabled) return r;
    const origin = req.headers.origin;
    if (origin === undefined) return r; // not a browser: its credentials were a token or a cookie it holds itself
    const own = [`http://${req.headers.host}`, `https://${req.headers.host}`];
    if (!own.includes(origin) && !this.opts.allowedOrigins.includes(origin)) return { ok: false, status: 403, reason: `origin ${origin} is not allowed` };
    return r;
  }

  /** Exchanges a token for a session; returns the Set-Cookie value, or undefined for a bad token. */
  login(token: string): { cookie: string; principal: Principal } | undefined {
    const principal = this.tokens.verify(token);
    if (!principal) return undefined;
    if (this.sessions.size >= MAX_SESSIONS) this.sessions.delete(this.sessions.keys().next().value as string); // the oldest
    const sid = randomBytes(32).toString('base64url');
    this.sessions.set(sid, { principal: { ...principal, via: 'session' }, expires: this.now() + this.opts.sessionTtlMs });
    const attrs = [`${SESSION_COOKIE}=${sid}`, 'HttpOnly', 'SameSite=Strict', 'Path=/', `Max-Age=${Math.floor(this.opts.sessionTtlMs / 1000)}`, ...(this.opts.secure ? ['Secure'] : [])];
    return { cookie: attrs.join('; '), principal };
  }

  logout(req: IncomingMessage): string {
    const sid = cookie(req, SESSION_COOKIE);
    if (sid) this.sessions.delete(sid);
    return `${SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0`;
  }

  /** Sessions of a revoked token end with it. */
  dropSessionsOf(name: string): void {
    for (const [sid, s] of this.sessions) if (s.principal.name === name) this.sessions.delete(sid);
  }
}
