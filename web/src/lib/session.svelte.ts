/**
 * Who uses this page, and whether they must sign in first. With the server
 * started as `--auth tokens`, every /api request needs a session: GET
 * /api/v1/whoami answers 401 until POST /api/v1/login has traded an API
 * token for an HttpOnly cookie (no script can read it; the WebSocket upgrade
 * sends it too). Without authentication whoami names `local`, an admin, and
 * the login screen never shows.
 *
 * The composition root (main.ts) starts the live connection on sign-in and
 * stops it on sign-out, and routes every later 401 here (`expired`), so a
 * session that ends while a page is open brings back the login screen.
 * Constructor only assigns; `check()` does the first request (§6.7).
 */
import { LOGIN_URL, LOGOUT_URL, WHOAMI_URL } from './api.js';
import { LOCAL_WHOAMI, allows, parseWhoami, type Role, type Whoami } from './roles.js';

export type SessionState = 'checking' | 'signed-in' | 'signed-out' | 'unreachable';

/** Why the login screen shows: first visit, a session that ended, or Sign out. */
export type SignedOutReason = 'required' | 'expired' | 'signed-out';

export interface SessionHooks {
  onSignedIn?: (who: Whoami) => void;
  onSignedOut?: () => void;
}

/** How long an unreachable server waits before whoami is asked again. */
const RETRY_MS = 5000;

export class Session {
  state = $state<SessionState>('checking');
  who = $state.raw<Whoami | null>(null);
  reason = $state<SignedOutReason>('required');
  /** The last failure in words, for the login or unreachable screen. */
  error = $state<string | null>(null);

  readonly #hooks: SessionHooks;
  #retry: ReturnType<typeof setTimeout> | null = null;

  constructor(hooks: SessionHooks = {}) {
    this.#hooks = hooks;
  }

  /** True when the signed-in role may do what needs `need`; without sign-in everyone is an admin. */
  allows(need: Role): boolean {
    return allows(this.who?.role, need);
  }

  /** Asks the server who we are: signed in, sign-in needed, or the server is not answering. */
  async check(): Promise<void> {
    this.#clearRetry();
    let res: Response;
    try {
      res = await fetch(WHOAMI_URL, { headers: { accept: 'application/json' }, cache: 'no-store' });
    } catch (err) {
      this.#unreachable(`the server did not answer (${err instanceof Error ? err.message : String(err)})`);
      return;
    }
    const body: unknown = await res.json().catch(() => null);
    if (res.status === 401) return this.#signedOut(this.state === 'signed-in' ? 'expired' : this.reason);
    if (res.status === 404) {
      // A server from before sign-in existed: it has no whoami, and no authentication either.
      return this.#signedIn(LOCAL_WHOAMI);
    }
    const who = res.ok ? parseWhoami(body) : null;
    if (!who) return this.#unreachable(`whoami answered HTTP ${res.status} with no principal`);
    this.#signedIn(who);
  }

  /** Trades an API token for a session. Resolves with the error to show, or null when signed in. */
  async login(token: string): Promise<string | null> {
    const trimmed = token.trim();
    if (trimmed === '') return 'Enter an API token.';
    let res: Response;
    try {
      res = await fetch(LOGIN_URL, {
        method: 'POST',
        headers: { accept: 'application/json', 'content-type': 'application/json' },
        body: JSON.stringify({ token: trimmed }),
      });
    } catch (err) {
      return `The server did not answer: ${err instanceof Error ? err.message : String(err)}`;
    }
    const body: unknown = await res.json().catch(() => null);
    if (res.status === 401) return 'That token is unknown or revoked.';
    if (!res.ok) {
      const reason = (body as { error?: unknown } | null)?.error;
      return `Sign-in failed: ${typeof reason === 'string' ? reason : `HTTP ${res.status}`}`;
    }
    const who = parseWhoami(body);
    if (!who) return 'The server accepted the token but did not say who it belongs to.';
    this.#signedIn(who);
    return null;
  }

  async logout(): Promise<void> {
    try {
      await fetch(LOGOUT_URL, { method: 'POST', headers: { accept: 'application/json' } });
    } catch {
      // Signed out here either way; the cookie lapses at its Max-Age.
    }
    this.#signedOut('signed-out');
  }

  /** A request answered 401: the session ended (expired, revoked, or the server restarted and forgot it). */
  expired(): void {
    if (this.state === 'signed-in' && this.who?.auth !== false) this.#signedOut('expired');
  }

  /**
   * The live feed was refused before it opened. Browsers hide the upgrade's
   * status, so ask whoami: a 401 there means the session ended.
   */
  verify(): void {
    if (this.state === 'signed-in' && this.who?.auth) void this.check();
  }

  #signedIn(who: Whoami): void {
    const was = this.state;
    this.who = who;
    this.error = null;
    this.state = 'signed-in';
    if (was !== 'signed-in') this.#hooks.onSignedIn?.(who);
  }

  #signedOut(reason: SignedOutReason): void {
    const was = this.state;
    this.who = null;
    this.reason = reason;
    this.state = 'signed-out';
    if (was === 'signed-in') this.#hooks.onSignedOut?.();
  }

  #unreachable(message: string): void {
    // A signed-in page stays as it is: its own views say the server is not answering.
    if (this.state === 'signed-in') return;
    this.error = message;
    this.state = 'unreachable';
    this.#retry = setTimeout(() => void this.check(), RETRY_MS);
  }

  #clearRetry(): void {
    if (this.#retry !== null) clearTimeout(this.#retry);
    this.#retry = null;
  }
}
