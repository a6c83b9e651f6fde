/**
 * The VictoriaMetrics engine's write side against a real VictoriaMetrics
 * (Debian's package): nothing is acknowledged before it is durable, an
 * outage loses nothing and shows while it lasts, and a SIGKILL loses
 * nothing that was acknowledged. Outage length: KW_OUTAGE_MS (3 s here,
 * longer in a soak run).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_DURABLE_DELAY_MS, type VictoriaStore } from '../../../server/store/victoria-store.js';
import { OUTAGE_MS } from '../../helpers/delivery-check.js';
import { type VictoriaMetrics, startVictoriaMetrics } from '../../helpers/victoria-metrics.js';
import { RecordingHooks, cleanupDirs, gpuA, gpuC, gpuKey, gpuWindowAt, sleep, storedWindows, victoriaStore } from './victoria-fixtures.js';

const open: { store?: VictoriaStore; vm?: VictoriaMetrics }[] = [];
afterEach(async () => {
  for (const o of open.splice(0)) {
    await o.store?.stop().catch(() => undefined);
    await o.vm?.dispose();
  }
  cleanupDirs();
});

async function setup(over: Parameters<typeof victoriaStore>[2] = {}) {
  const vm = await startVictoriaMetrics({ windowMs: 1000 });
  const hooks = new RecordingHooks();
  const store = victoriaStore(vm.url, hooks, over);
  open.push({ store, vm });
  await store.start();
  return { vm, hooks, store };
}

/** Enqueues one window per host every `everyMs` (two hosts: GPU a on h1, c on h2) until stopped; returns what it enqueued. */
function feeder(store: VictoriaStore, site: string, t0: number, everyMs = 100) {
  let seq = 0;
  const sent: string[] = [];
  const timer = setInterval(() => {
    for (const [host, gpu] of [['h1', gpuA(seq % 50)], ['h2', gpuC()]] as const) {
      if (store.enqueue({ kind: 'gpu', key: gpuKey(site, host), window: gpuWindowAt(seq, t0 + seq * 1000, [gpu]), receivedAt: Date.now() })) sent.push(`${site}/${host}/${seq}`);
    }
    seq += 1;
  }, everyMs);
  return { sent, stop: () => clearInterval(timer) };
}

/** The acknowledged windows that VictoriaMetrics does not hold. */
async function ackedButMissing(url: string, site: string, acked: Iterable<string>, t0: number): Promise<string[]> {
  const stored = await storedWindows(url, site);
  const has = (host: string, gpu: string, seq: number) => stored.get(`${host}/${gpu}`)?.has(t0 + seq * 1000 + 1000) ?? false;
  return [...acked].filter((k) => {
    const [, host, seq] = k.split('/');
    return !has(host!, host === 'h1' ? 'a' : 'c', Number(seq));
  });
}

describe('VictoriaMetrics store: durability', () => {
  it('acknowledges a window only after the write succeeded and the flush delay passed, then through the inner DuckDB', async () => {
    const { store, hooks } = await setup({ durableDelayMs: 3000 });
    const t0 = 1_764_010_000_000;
    const enqueuedAt = Date.now();
    for (let i = 0; i < 20; i++) store.enqueue({ kind: 'gpu', key: gpuKey('ack', 'h1'), window: gpuWindowAt(i, t0 + i * 1000, [gpuA(i), { ...gpuC(), id: 'b' }]), receivedAt: enqueuedAt });
    const flushed = store.flush();
    await sleep(1500);
    // Written (the client's success callback came) but not yet durable: held, not acknowledged.
    expect(store.stats(Date.now())).toMatchObject({ awaiting_durable_rows: 40, degraded: false });
    expect(hooks.acked.size).toBe(0);
    await flushed;
    expect(hooks.acked.size).toBe(20);
    expect(Math.min(...hooks.acked.values()) - enqueuedAt).toBeGreaterThanOrEqual(3000);
    expect(store.stats(Date.now())).toMatchObject({ pending_rows: 0, written_rows: 40, awaiting_durable_rows: 0, dropped_rows: 0 });
  });

  it('refuses a VictoriaMetrics that hides the last 30 s or keeps duplicates, saying which flags to set', async () => {
    const vm = await startVictoriaMetrics({ defaults: true });
    open.push({ vm });
    const store = victoriaStore(vm.url, new RecordingHooks());
    await expect(store.start()).rejects.toThrow(/-search\.latencyOffset=0s[\s\S]*-dedup\.minScrapeInterval/);
  });

  it('bounds what it holds in memory and counts what it refused', async () => {
    const { store } = await setup({ maxPendingRows: 10 });
    let accepted = 0;
    for (let i = 0; i < 15; i++) if (store.enqueue({ kind: 'gpu', key: gpuKey('bound', 'h1'), window: gpuWindowAt(i, 1_764_020_000_000 + i * 1000, [gpuC()]), receivedAt: 0 })) accepted++;
    expect(accepted).toBe(10);
    expect(store.stats(0)).toMatchObject({ pending_rows: 10, dropped_rows: 5 });
  });
});

describe('VictoriaMetrics store: faults', () => {
  it(`an outage of ${OUTAGE_MS} ms while windows keep coming: degraded while it lasts, nothing lost, all in within 10 s of recovery`, async () => {
    const { vm, store, hooks } = await setup({ durableDelayMs: 3000 });
    const t0 = 1_764_030_000_000;
    const feed = feeder(store, 'outage', t0);
    await sleep(2000);
    await vm.stop();
    const sentAtStop = feed.sent.length;
    const degraded: boolean[] = [];
    const started = Date.now();
    while (Date.now() - started < OUTAGE_MS) {
      await sleep(250);
      degraded.push(store.stats(Date.now()).degraded);
    }
    expect(degraded.at(-1)).toBe(true);
    expect(store.stats(Date.now()).last_error).toMatch(/VictoriaMetrics/);
    // Nothing that arrived while it was down has been acknowledged.
    const sentDuring = feed.sent.slice(sentAtStop);
    expect(sentDuring.filter((k) => hooks.acked.has(k))).toEqual([]);
    await vm.start();
    const recovered = Date.now();
    await sleep(500);
    feed.stop();
    const sent = [...feed.sent];
    // Everything sent before recovery reaches VictoriaMetrics within 10 s.
    for (;;) {
      const missing = await ackedButMissing(vm.url, 'outage', sent, t0);
      if (missing.length === 0) break;
      expect(Date.now() - recovered, `still missing ${missing.length}, e.g. ${missing.slice(0, 3).join(', ')}`).toBeLessThan(10_000);
      await sleep(250);
    }
    const inMs = Date.now() - recovered;
    await store.flush();
    expect([...hooks.acked.keys()].sort()).toEqual(sent.sort());
    expect(store.stats(Date.now())).toMatchObject({ degraded: false, pending_rows: 0, dropped_rows: 0 });
    console.log(`[victoria outage ${OUTAGE_MS} ms] ${sent.length} windows (${sentDuring.length} during the outage), all stored ${inMs} ms after recovery, none acknowledged before`);
  });

  it('SIGKILL mid-stream, then a restart: nothing acknowledged is lost, and everything lands', async () => {
    // The real flush delay: this is the test of it.
    const { vm, store, hooks } = await setup({ durableDelayMs: DEFAULT_DURABLE_DELAY_MS });
    const t0 = 1_764_040_000_000;
    const feed = feeder(store, 'kill', t0);
    while (hooks.acked.size < 40) await sleep(200); // acknowledgements flow (after the delay)
    await sleep(Math.random() * 1000);
    await vm.kill();
    const acked = [...hooks.acked.keys()];
    await sleep(500);
    await vm.start();
    await sleep(1000);
    feed.stop();
    await store.flush(); // the batches written before the kill are seen as not durable and written again
    expect(await ackedButMissing(vm.url, 'kill', acked, t0)).toEqual([]);
    expect(await ackedButMissing(vm.url, 'kill', feed.sent, t0)).toEqual([]);
    expect(hooks.acked.size).toBe(feed.sent.length);
    const stats = store.stats(Date.now());
    expect(stats.rewritten_batches).toBeGreaterThan(0);
    console.log(`[victoria SIGKILL] ${acked.length} acknowledged before the kill, all kept; ${feed.sent.length} windows in all; ${stats.rewritten_batches} batches written again after the restart`);
  });
});
