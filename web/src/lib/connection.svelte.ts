/**
 * The one WebSocket every live view shares (ARCHITECTURE.md §1: "Live views
 * stream over one WebSocket"). It reconnects with capped, jittered backoff and
 * re-sends every subscription after each reconnect, because the server keeps
 * subscriptions per socket and forgets them when the socket dies.
 *
 * Constructor only assigns; start()/stop() do the work (§6.7).
 */
import type { ClientMessage, ServerMessage, ViewName } from '../../../protocol/ws.js';

export type ConnectionState = 'idle' | 'connecting' | 'open' | 'waiting' | 'stopped';

export type MessageHandler = (msg: ServerMessage) => void;

export interface ConnectionOptions {
  /** First retry delay; doubles per failed attempt. */
  minDelayMs?: number;
  /** Cap, so a long outage still retries often enough to notice recovery. */
  maxDelayMs?: number;
  /**
   * A socket closed before it opened. With sign-in on, the upgrade is refused
   * with 401 once the session ends, and a browser does not show a WebSocket
   * the status: the session asks whoami to tell that from a server that is down.
   */
  onRefused?: () => void;
}

/** ws: or wss: to /api/v1/live on the page's own host, matching the page protocol. */
export function liveUrl(loc: Pick<Location, 'protocol' | 'host'>): string {
  const scheme = loc.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${loc.host}/api/v1/live`;
}

/**
 * Delay before retry number `attempt` (0-based): min * 2^attempt capped at
 * max, then "equal jitter" (half fixed, half random) so a restarted server is
 * not hit by every open browser in the same millisecond.
 */
export function backoffDelay(attempt: number, minMs: number, maxMs: number, random = Math.random): number {
  const base = Math.min(maxMs, minMs * 2 ** Math.min(attempt, 20));
  return Math.round(base / 2 + (base / 2) * random());
}

function isServerMessage(x: unknown): x is ServerMessage {
  // A light shape check; the stores check the fields they read.
  return typeof x === 'object' && x !== null && typeof (x as { type?: unknown }).type === 'string';
}

export class LiveConnection {
  state = $state<ConnectionState>('idle');
  /** When the next attempt starts (epoch ms) while `waiting`. */
  retryAt = $state<number | null>(null);
  /** Epoch ms of the last message received; null before the first. */
  lastMessageAt = $state<number | null>(null);
  /** Messages that were not JSON or had no `type`: counted, never thrown. */
  rejected = $state(0);

  readonly #url: string;
  readonly #minDelayMs: number;
  readonly #maxDelayMs: number;
  readonly #onRefused: (() => void) | undefined;
  readonly #handlers = new Map<ViewName | '*', Set<MessageHandler>>();
  #socket: WebSocket | null = null;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #attempt = 0;

  constructor(url: string, options: ConnectionOptions = {}) {
    this.#url = url;
    this.#minDelayMs = options.minDelayMs ?? 500;
    this.#maxDelayMs = options.maxDelayMs ?? 15_000;
    this.#onRefused = options.onRefused;
  }

  /** Also after stop(): signing in again restarts the feed with the same subscriptions. */
  start(): void {
    if (this.state !== 'idle' && this.state !== 'stopped') return;
    this.#attempt = 0;
    this.#connect();
  }

  stop(): void {
    this.state = 'stopped';
    this.#clearTimer();
    const socket = this.#socket;
    this.#socket = null;
    socket?.close(1000, 'page closed');
  }

  /** Skips the remaining backoff wait (the "Reconnect now" button). */
  retryNow(): void {
    if (this.state !== 'waiting') return;
    this.#clearTimer();
    this.#connect();
  }

  /**
   * Routes messages of `view` (or '*' for all, e.g. errors) to `handler` and
   * subscribes on the server. Returns the matching unsubscribe.
   */
  subscribe(view: ViewName | '*', handler: MessageHandler): () => void {
    let set = this.#handlers.get(view);
    if (!set) this.#handlers.set(view, (set = new Set()));
    const first = set.size === 0;
    set.add(handler);
    if (first && view !== '*') this.#send({ type: 'subscribe', view });
    return () => {
      if (!set.delete(handler)) return;
      if (set.size === 0 && view !== '*') this.#send({ type: 'unsubscribe', view });
    };
  }

  #connect(): void {
    this.state = 'connecting';
    this.retryAt = null;
    const socket = new WebSocket(this.#url);
    this.#socket = socket;
    let opened = false;
    socket.onopen = () => {
      if (socket !== this.#socket) return;
      opened = true;
      this.state = 'open';
      this.#attempt = 0;
      // The server forgot our subscriptions with the old socket: send them again.
      for (const [view, set] of this.#handlers) {
        if (view !== '*' && set.size > 0) this.#send({ type: 'subscribe', view });
      }
    };
    socket.onmessage = (event: MessageEvent) => {
      if (socket !== this.#socket) return;
      this.lastMessageAt = Date.now();
      this.#dispatch(event.data);
    };
    // onerror is always followed by onclose, which owns the retry.
    socket.onclose = () => {
      if (socket !== this.#socket) return;
      this.#socket = null;
      this.#scheduleRetry();
      if (!opened) this.#onRefused?.();
    };
  }

  #scheduleRetry(): void {
    const delay = backoffDelay(this.#attempt++, this.#minDelayMs, this.#maxDelayMs);
    this.state = 'waiting';
    this.retryAt = Date.now() + delay;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#connect();
    }, delay);
  }

  #dispatch(raw: unknown): void {
    let msg: unknown;
    try {
      msg = typeof raw === 'string' ? JSON.parse(raw) : null;
    } catch {
      msg = null;
    }
    if (!isServerMessage(msg)) {
      this.rejected++;
      return;
    }
    const view = 'view' in msg ? msg.view : null;
    for (const key of view ? [view, '*' as const] : ['*' as const]) {
      for (const handler of this.#handlers.get(key) ?? []) handler(msg);
    }
  }

  #send(msg: ClientMessage): void {
    // While not open there is nothing to do: onopen re-sends every subscription.
    if (this.#socket?.readyState === WebSocket.OPEN) this.#socket.send(JSON.stringify(msg));
  }

  #clearTimer(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }
}
