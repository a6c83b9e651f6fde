/**
 * Live state of the `alerts` view: the active alerts, fed by the WebSocket
 * (protocol/ws.ts): the whole list on subscribing (and again after a reconnect
 * or skipped frames), then one message per transition, sent at once by the
 * server outside the live views' coalescing.
 *
 * The list lives in `$state.raw` and is replaced, never mutated (issue 8,
 * "Quality"). A fleet-wide rule can fire on thousands of GPUs in one
 * window, each its own message; those are applied to a keyed map and
 * published as one sorted array per burst (at most every BATCH_MS), so a
 * burst costs one sort and one render rather than thousands.
 */
import type { ServerMessage, WsAlert, WsAlertEvent } from '../../../protocol/ws.js';
import { applyAlertEvent, isWsAlert, isWsAlertEvent, sortedAlerts } from './alerts-view.js';

/** How long a burst of transitions is gathered before the list is published. */
export const BATCH_MS = 50;

export class AlertStore {
  /** Active alerts (pending and firing), firing first, most severe, newest. */
  active = $state.raw<readonly WsAlert[]>([]);
  /** True once the server sent the whole list: before that an empty list means "loading", not "all clear". */
  loaded = $state(false);
  /** Transitions received (acknowledgements included): pages that show the history refresh on a change. */
  events = $state(0);
  lastEvent = $state.raw<WsAlertEvent | null>(null);
  /** Messages or alerts that could not be used, counted rather than thrown (ARCHITECTURE.md §6.5). */
  rejected = $state(0);

  readonly #byKey = new Map<string, WsAlert>();
  #timer: ReturnType<typeof setTimeout> | null = null;

  /** Feeds one server message; anything not for the alerts view is ignored. */
  handle(msg: ServerMessage): void {
    switch (msg.type) {
      case 'alerts': {
        if (!Array.isArray(msg.active)) {
          this.rejected++;
          return;
        }
        this.#byKey.clear();
        for (const a of msg.active) {
          if (isWsAlert(a)) this.#byKey.set(a.key, a);
          else this.rejected++;
        }
        // The whole list supersedes any burst still waiting.
        this.#publish();
        this.loaded = true;
        return;
      }
      case 'alert': {
        if (!isWsAlertEvent(msg.event) || (msg.active !== null && !isWsAlert(msg.active))) {
          this.rejected++;
          return;
        }
        applyAlertEvent(this.#byKey, msg.event, msg.active);
        this.lastEvent = msg.event;
        this.events++;
        this.#timer ??= setTimeout(() => this.#publish(), BATCH_MS);
        return;
      }
    }
  }

  /**
   * Shows an acknowledgement the server confirmed (POST answered 200) at
   * once; the server's own transition, which follows over the socket,
   * replaces it with the same content. Keeps the page right when the live
   * feed is down.
   */
  markAcked(key: string, by: string, at: number): void {
    const a = this.#byKey.get(key);
    if (!a) return;
    // The server's own event may already be in the map, waiting for its batch: publish it now either way.
    if (!a.acked) this.#byKey.set(key, { ...a, acked: { by, at } });
    this.#publish();
  }

  /** Drops a pending publish; for pages and tests that throw the store away. */
  stop(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }

  #publish(): void {
    this.stop();
    this.active = sortedAlerts(this.#byKey.values());
  }
}
