/**
 * One JSON resource of the HTTP API, fetched now and again every interval
 * while a page shows it. History views poll (issue 8 pushes live views over
 * the WebSocket; the job ledger and the facility report change at most once a
 * window, so 10 s is plenty). A page runs it from an `$effect`, so a changed
 * URL restarts it and leaving the page stops it:
 *
 *   $effect(() => poll.run(jobsUrl(query)));
 *
 * The last good answer stays on screen when a later one fails, with the
 * error beside it, rather than blanking the page on a transient failure.
 */
import { ApiError, fetchJson } from './api.js';

export class Poll<T> {
  data = $state.raw<T | null>(null);
  /** The URL `data` was fetched from, so a page can tell a stale answer from the current one. */
  dataUrl = $state<string | null>(null);
  error = $state<string | null>(null);
  problems = $state.raw<readonly string[]>([]);
  /** HTTP status of the failed answer, e.g. 404 for a job that does not exist. */
  errorStatus = $state<number | null>(null);
  loading = $state(false);
  updatedAt = $state<number | null>(null);

  readonly intervalMs: number;
  #url: (() => string) | null = null;
  #controller: AbortController | null = null;

  constructor(intervalMs = 10_000) {
    this.intervalMs = intervalMs;
  }

  /**
   * Fetches `url` now and every interval until the returned function is
   * called. A function is asked again before every fetch, for URLs that hold
   * a moving range such as "the last 7 days".
   */
  run(url: string | (() => string)): () => void {
    const next = typeof url === 'string' ? () => url : url;
    this.#url = next;
    void this.refresh();
    const timer = setInterval(() => {
      // A hidden tab needs no fresh numbers; it catches up when shown again.
      if (!document.hidden) void this.refresh();
    }, this.intervalMs);
    const onVisible = () => {
      if (!document.hidden) void this.refresh();
    };
    document.addEventListener('visibilitychange', onVisible);
    return () => {
      clearInterval(timer);
      document.removeEventListener('visibilitychange', onVisible);
      this.#controller?.abort();
      this.#controller = null;
      if (this.#url === next) this.#url = null;
    };
  }

  async refresh(): Promise<void> {
    if (this.#url === null) return;
    const url = this.#url();
    // One request at a time: a newer one supersedes the one in flight.
    this.#controller?.abort();
    const controller = new AbortController();
    this.#controller = controller;
    this.loading = true;
    try {
      const body = await fetchJson<T>(url, controller.signal);
      if (controller.signal.aborted) return;
      this.data = body;
      this.dataUrl = url;
      this.updatedAt = Date.now();
      this.error = null;
      this.problems = [];
      this.errorStatus = null;
    } catch (err) {
      if (controller.signal.aborted) return;
      this.error = err instanceof Error ? err.message : String(err);
      this.problems = err instanceof ApiError ? err.problems : [];
      this.errorStatus = err instanceof ApiError ? err.status : null;
    } finally {
      if (this.#controller === controller) {
        this.#controller = null;
        this.loading = false;
      }
    }
  }
}
