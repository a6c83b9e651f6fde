/**
 * The poll loop every poller runs on, with fake time: polls at its interval,
 * abandons a slow poll at its deadline (aborting its signal), never starts a
 * poll while another still runs, counts errors, and stops promptly.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { PollLoop, type PollLoopOptions, STOP_GRACE_MS } from '../../../collector/pollers/poll-loop.js';

const never = () => new Promise<never>(() => undefined);
/** A poll that takes `ms` and honours its signal. */
const takes = <T>(ms: number, value: T) => (signal: AbortSignal) =>
  new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => resolve(value), ms);
    signal.addEventListener('abort', () => {
      clearTimeout(t);
      reject(signal.reason);
    });
  });

function loop<T>(over: Partial<PollLoopOptions<T>> & Pick<PollLoopOptions<T>, 'poll'>) {
  const results: [T, number][] = [];
  const failures: string[] = [];
  const l = new PollLoop<T>({
    intervalMs: () => 1000,
    timeoutMs: () => 500,
    onResult: (v, at) => results.push([v, at]),
    onFailure: (kind, detail) => failures.push(`${kind}: ${detail}`),
    now: () => Date.now(),
    ...over,
  });
  return { l, results, failures };
}

beforeEach(() => void vi.useFakeTimers({ now: 1_000_000 }));
afterEach(() => void vi.useRealTimers());

describe('PollLoop', () => {
  it('polls at once, then every interval, handing each result over with the instant it arrived', async () => {
    const { l, results } = loop({ poll: takes(100, 'r') });
    l.start();
    await vi.advanceTimersByTimeAsync(3050);
    expect(results.map(([, at]) => at - 1_000_000)).toEqual([100, 1100, 2100, 3100].filter((t) => t <= 3050));
    expect(l.counters).toEqual({ polls: 4, ok: 3, timeout: 0, error: 0, busy: 0 });
    await l.stop();
  });

  it('abandons a poll at its deadline: the signal aborts, it counts as timeout, its late answer is dropped', async () => {
    let signal: AbortSignal | undefined;
    const { l, results, failures } = loop({ poll: (s) => ((signal = s), takes(30_000, 'late')(s)) });
    l.start();
    await vi.advanceTimersByTimeAsync(499);
    expect(signal?.aborted).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(signal?.aborted).toBe(true);
    expect((signal?.reason as Error).name).toBe('TimeoutError');
    expect(l.counters).toMatchObject({ polls: 1, timeout: 1, ok: 0 });
    expect(failures).toEqual(['timeout: no answer within 500 ms']);
    await vi.advanceTimersByTimeAsync(5000);
    expect(results).toEqual([]);
    expect(l.counters).toMatchObject({ polls: 6, timeout: 6 });
    await l.stop();
  });

  it('never overlaps: a poll that ignores its abort keeps the next ones from starting, and they count as busy', async () => {
    let running = 0;
    let most = 0;
    let release: () => void = () => undefined;
    const { l } = loop({
      poll: () => {
        running += 1;
        most = Math.max(most, running);
        return new Promise<string>((r) => (release = () => r('x'))).finally(() => (running -= 1));
      },
    });
    l.start();
    await vi.advanceTimersByTimeAsync(3500);
    expect(l.counters).toMatchObject({ polls: 1, timeout: 1, busy: 3 });
    release();
    await vi.advanceTimersByTimeAsync(1000);
    expect(l.counters).toMatchObject({ polls: 2, busy: 3 });
    expect(most).toBe(1);
    release();
    await l.stop();
  });

  it('counts a failing poll (rejected or thrown) as error and goes on polling', async () => {
    let n = 0;
    const { l, results, failures } = loop<number>({
      poll: async () => {
        n += 1;
        if (n === 1) throw new Error('HTTP 500');
        if (n === 2) throw Object.assign(new Error('fetch failed'), { cause: new Error('ECONNREFUSED') });
        return n;
      },
    });
    l.start();
    await vi.advanceTimersByTimeAsync(2010);
    expect(failures).toEqual(['error: HTTP 500', 'error: fetch failed: ECONNREFUSED']);
    expect(results.map(([v]) => v)).toEqual([3]);
    expect(l.counters).toMatchObject({ polls: 3, ok: 1, error: 2 });
    expect(l.lastFailure).toBe('error: fetch failed: ECONNREFUSED');
    await l.stop();
  });

  it('counts a result handler that throws as error, and keeps running', async () => {
    const { l } = loop({ poll: async () => 1, onResult: () => { throw new Error('bug'); } });
    l.start();
    await vi.advanceTimersByTimeAsync(1010);
    expect(l.counters).toMatchObject({ polls: 2, ok: 2, error: 2 });
    await l.stop();
  });

  it('follows an interval that changes (a device pace learned from the first answer)', async () => {
    let interval = 1000;
    const { l, results } = loop({ poll: async () => ((interval = 3000), 'x'), intervalMs: () => interval });
    l.start();
    await vi.advanceTimersByTimeAsync(6500);
    expect(results.map(([, at]) => at - 1_000_000)).toEqual([0, 3000, 6000]);
    await l.stop();
  });

  it('stop() aborts the poll in flight and resolves at once when the poll honours its signal', async () => {
    let signal: AbortSignal | undefined;
    const { l, results, failures } = loop({ poll: (s) => ((signal = s), takes(30_000, 'x')(s)), timeoutMs: () => 60_000 });
    l.start();
    await vi.advanceTimersByTimeAsync(10);
    const began = Date.now();
    await l.stop();
    expect(Date.now() - began).toBe(0);
    expect(signal?.aborted).toBe(true);
    expect([results, failures]).toEqual([[], []]);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(l.counters.polls).toBe(1);
  });

  it('stop() returns within its grace even when the poll ignores its signal', async () => {
    const { l } = loop({ poll: never, timeoutMs: () => 60_000 });
    l.start();
    await vi.advanceTimersByTimeAsync(10);
    const stopped = l.stop();
    let done = false;
    void stopped.then(() => (done = true));
    await vi.advanceTimersByTimeAsync(STOP_GRACE_MS - 1);
    expect(done).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(done).toBe(true);
  });
});
