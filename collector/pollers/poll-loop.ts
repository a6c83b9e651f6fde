/**
 * Runs one poll function on an interval, for every data-center power source
 * (poller.ts). What it guarantees, so no poller has to get it right alone:
 *
 * - never overlapping: the next poll starts only once the previous one has
 *   settled, or has been abandoned at its deadline and has since settled;
 * - never waiting on a slow device: each poll gets an AbortSignal and a
 *   deadline. At the deadline the signal is aborted (the HTTP request is
 *   destroyed, the child process killed) and the poll is counted as
 *   `timeout`; its late result, if any, is thrown away. A BMC that takes 30 s
 *   to answer costs one timer, not a blocked loop;
 * - a poll that rejects is counted as `error`, with its message kept for the
 *   log, and the loop goes on at its interval;
 * - stop() aborts the poll in flight and resolves within STOP_GRACE_MS even
 *   when the poll ignores its signal.
 *
 * The interval and deadline are read before every poll, so a source may follow
 * its device's own pace (Redfish's SensingInterval) or give its first,
 * discovering poll more time.
 */

export interface PollLoopOptions<T> {
  /** Time from the start of one poll to the start of the next, read before each wait. */
  intervalMs: () => number;
  /** Deadline of the next poll, read as it starts. */
  timeoutMs: () => number;
  /** One poll; it should stop its I/O when the signal aborts. */
  poll: (signal: AbortSignal) => Promise<T>;
  /** The result of a poll that settled within its deadline. */
  onResult: (value: T, atMs: number) => void;
  /** A poll that timed out or failed; called for each, so the caller decides what to log. */
  onFailure?: (kind: 'timeout' | 'error', detail: string) => void;
  now: () => number;
}

export interface PollCounters {
  /** Polls started. */
  polls: number;
  ok: number;
  timeout: number;
  error: number;
  /** Turns skipped because an abandoned poll ignored its abort and still runs. */
  busy: number;
}

/** How long stop() waits for an aborted poll to settle before it returns anyway. */
export const STOP_GRACE_MS = 1000;

class Deadline extends Error {
  constructor(ms: number) {
    super(`no answer within ${ms} ms`);
    this.name = 'TimeoutError';
  }
}

type Outcome<T> = { kind: 'ok'; value: T } | { kind: 'error'; detail: string } | { kind: 'timeout'; detail: string } | { kind: 'stopped' };

export class PollLoop<T> {
  readonly counters: PollCounters = { polls: 0, ok: 0, timeout: 0, error: 0, busy: 0 };
  /** The message of the latest failure, for health logs. */
  lastFailure = '';
  private running = false;
  private timer: NodeJS.Timeout | undefined;
  /** The poll's own promise until it settles, even after it was abandoned. */
  private inflight: Promise<void> | undefined;
  private controller: AbortController | undefined;
  /** The running turn of the loop (wait for the poll, count it, schedule the next). */
  private turn: Promise<void> | undefined;
  private wakeStopped: (() => void) | undefined;

  constructor(private readonly opts: PollLoopOptions<T>) {}

  /** Polls at once, then every interval. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule(0);
  }

  private schedule(delayMs: number): void {
    if (!this.running) return;
    this.timer = setTimeout(() => {
      this.turn = this.runTurn();
    }, Math.max(0, delayMs));
  }

  private async runTurn(): Promise<void> {
    const began = this.opts.now();
    if (this.inflight) {
      // An abandoned poll that ignored its abort still holds the device: starting another would overlap it.
      this.counters.busy += 1;
      this.schedule(this.opts.intervalMs());
      return;
    }
    this.counters.polls += 1;
    const outcome = await this.pollOnce();
    if (outcome.kind === 'stopped') return;
    if (outcome.kind === 'ok') {
      this.counters.ok += 1;
      try {
        this.opts.onResult(outcome.value, this.opts.now());
      } catch (err) {
        // A result handler that throws is a bug in the poller; counted, never allowed to end the loop.
        this.count('error', `result handler failed: ${(err as Error).message}`);
      }
    } else {
      this.count(outcome.kind, outcome.detail);
    }
    this.schedule(began + this.opts.intervalMs() - this.opts.now());
  }

  private count(kind: 'timeout' | 'error', detail: string): void {
    this.counters[kind] += 1;
    this.lastFailure = `${kind}: ${detail}`;
    this.opts.onFailure?.(kind, detail);
  }

  private pollOnce(): Promise<Outcome<T>> {
    const controller = new AbortController();
    this.controller = controller;
    const limit = this.opts.timeoutMs();
    // A poll function that throws before returning its promise is an error like any other.
    const work = Promise.resolve().then(() => this.opts.poll(controller.signal));
    const settled = work.then(() => undefined, () => undefined);
    this.inflight = settled;
    void settled.then(() => {
      if (this.inflight === settled) this.inflight = undefined;
    });
    return new Promise<Outcome<T>>((resolve) => {
      let done = false;
      const finish = (o: Outcome<T>) => {
        if (done) return;
        done = true;
        clearTimeout(deadline);
        this.wakeStopped = undefined;
        if (this.controller === controller) this.controller = undefined;
        resolve(o);
      };
      const deadline = setTimeout(() => {
        controller.abort(new Deadline(limit));
        finish({ kind: 'timeout', detail: `no answer within ${limit} ms` });
      }, limit);
      this.wakeStopped = () => finish({ kind: 'stopped' });
      work.then(
        (value) => finish(this.running ? { kind: 'ok', value } : { kind: 'stopped' }),
        (err: unknown) => finish(this.running ? { kind: 'error', detail: errorText(err) } : { kind: 'stopped' }),
      );
    });
  }

  /** Cancels the next poll and aborts the one in flight; resolves once it settled, or after STOP_GRACE_MS. */
  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    this.controller?.abort(new Error('poller stopped'));
    this.wakeStopped?.();
    await this.turn;
    const inflight = this.inflight;
    if (!inflight) return;
    let grace: NodeJS.Timeout | undefined;
    await Promise.race([inflight, new Promise<void>((r) => (grace = setTimeout(r, STOP_GRACE_MS)))]);
    clearTimeout(grace);
  }
}

/** An error's message, with the cause a fetch-like failure hides behind "fetch failed". */
export function errorText(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = (err as Error & { cause?: unknown }).cause;
  return cause instanceof Error && cause.message !== err.message ? `${err.message}: ${cause.message}` : err.message;
}
