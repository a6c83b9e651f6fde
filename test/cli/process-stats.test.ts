/** The process figures of the collector's health line and the server's /api/v1/health and /metrics. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ProcessStats, type ProcessStatsSources } from '../../cli/process-stats.js';

/** A histogram of whole timer intervals in ns, as perf_hooks keeps them. */
function fakeHistogram() {
  let values: number[] = [];
  let enabled = false;
  return {
    record: (ms: number) => values.push(ms * 1e6),
    get enabled() {
      return enabled;
    },
    get count() {
      return values.length;
    },
    get max() {
      return values.length ? Math.max(...values) : 9_223_372_036_854_776_000;
    },
    percentile(p: number) {
      if (!values.length) return 0;
      const s = [...values].sort((a, b) => a - b);
      return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
    },
    reset: () => void (values = []),
    enable: () => ((enabled = true), true),
    disable: () => ((enabled = false), true),
  };
}

function setup() {
  const histogram = fakeHistogram();
  let now = 1_000_000;
  let rss = 100e6;
  const src: ProcessStatsSources = { histogram, memory: () => ({ rss, heapUsed: rss / 4 }), now: () => now };
  const stats = new ProcessStats(src, 10);
  return { stats, histogram, advance: (ms: number) => (now += ms), setRss: (b: number) => (rss = b) };
}

afterEach(() => vi.useRealTimers());

describe('ProcessStats', () => {
  it('reports the delay beyond the 10 ms timer: p50, p99 and max in ms, then starts a new interval', () => {
    const { stats, histogram, advance } = setup();
    expect(histogram.enabled).toBe(true);
    for (let i = 0; i < 98; i++) histogram.record(10.2);
    histogram.record(25); // one 15 ms stall
    histogram.record(60); // one 50 ms stall
    advance(5000);
    const first = stats.take();
    expect(first).toEqual({ rss_bytes: 100e6, heap_used_bytes: 25e6, event_loop_delay_ms: { p50: 0.2, p99: 15, max: 50 }, interval_s: 5 });
    // The next interval starts empty: no stall carries over.
    histogram.record(10.5);
    advance(2500);
    expect(stats.take().event_loop_delay_ms).toEqual({ p50: 0.5, p99: 0.5, max: 0.5 });
  });

  it('reads an interval with no sample as no delay, not as the empty histogram\'s huge max', () => {
    const { stats, advance } = setup();
    advance(1000);
    expect(stats.take().event_loop_delay_ms).toEqual({ p50: 0, p99: 0, max: 0 });
  });

  it('answers readers at any time with the last closed interval, and the memory of now', () => {
    vi.useFakeTimers();
    const { stats, histogram, setRss } = setup();
    histogram.record(12);
    // Before any interval closes: the figures so far, and reading them does not cut the interval short.
    expect(stats.latest().event_loop_delay_ms.max).toBe(2);
    expect(stats.latest().event_loop_delay_ms.max).toBe(2);
    stats.closeEvery(10_000);
    vi.advanceTimersByTime(10_000);
    histogram.record(40); // in the open interval: not seen until it closes
    setRss(300e6);
    const seen = stats.latest();
    expect(seen.event_loop_delay_ms.max).toBe(2);
    expect(seen.rss_bytes).toBe(300e6);
    vi.advanceTimersByTime(10_000);
    expect(stats.latest().event_loop_delay_ms.max).toBe(30);
    stats.stop();
    expect(histogram.enabled).toBe(false);
  });

  it('measures the real event loop: a 60 ms busy wait shows in max', async () => {
    const stats = new ProcessStats();
    await new Promise((r) => setTimeout(r, 50));
    const until = Date.now() + 60;
    while (Date.now() < until);
    await new Promise((r) => setTimeout(r, 30));
    const s = stats.take();
    stats.stop();
    expect(s.event_loop_delay_ms.max).toBeGreaterThanOrEqual(40);
    expect(s.event_loop_delay_ms.p50).toBeLessThan(s.event_loop_delay_ms.max);
    expect(s.rss_bytes).toBeGreaterThan(10e6);
  });
});
