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
    const { store, hooks } = await setup();
    const t0 = 1_764_010_000_000;
    const enqueuedAt = Date.now();
    for (let i = 0; i < 20; i++) store.enqueue({ kind: 'gpu', key: gpuKey('ack', 'h1'), window: gpuWindowAt(i, t0 + i * 1000, [gpuA(i), { ...gpuC(), id: 'b' }]), receivedAt: enqueuedAt });
    const flushed = store.flush();
    await sleep(2500);
    // Written (the client's success callback came) but not yet durable: held, not acknowledged.
    expect(store.stats(Date.now())).toMatchObject({ awaiting_durable_rows: 40, degraded: false });
    expect(hooks.acked.size).toBe(0);
    await flushed;
    expect(hooks.acked.size).toBe(20);
    expect(Math.min(...hooks.acked.values()) - enqueuedAt).toBeGreaterThanOrEqual(5000);
    expect(store.stats(Date.now())).toMatchObject({ pending_rows: 0, written_rows: 40, awaiting_durable_rows: 0, dropped_rows: 0 });
  });

  it('refuses a VictoriaMetrics that hides the last 30 s or keeps duplicates, saying which flags to set', async () => {
    const vm = await startVictoriaMetrics({ defaults: true });
    open.push({ vm });
    const store = victoriaStore(vm.url, new RecordingHooks());
    await expect(store.start()).rejects.toThrow(/-search\.latencyOffset=0s[\s\S]*-dedup\.minScrapeInterval/);
  });

  it("a restarted store resumes each GPU's counter from VictoriaMetrics: the first window after a gap gets the gap's energy", async () => {
    const { vm, store } = await setup();
    const t0 = Math.floor(Date.now() / 1000) * 1000 - 60_000; // seeding looks back an hour from now, as DuckDB's does
    for (let i = 0; i < 5; i++) store.enqueue({ kind: 'gpu', key: gpuKey('seed', 'h1'), window: gpuWindowAt(i, t0 + i * 1000, [gpuA(i)]), receivedAt: 0 });
    await store.stop();
    // The first store's seeding asked for these series before they existed; VictoriaMetrics 1.79 caches such a
    // lookup and resets that cache every 10 s. (With the real 15 s flush delay, acknowledged series are always past it.)
    await sleep(12_000);
    const again = victoriaStore(vm.url, new RecordingHooks());
    open.push({ store: again });
    await again.start();
    // Window 5 never arrived; window 6's counter difference covers both (105 J + 106 J), not 106 J from mean × time.
    again.enqueue({ kind: 'gpu', key: gpuKey('seed', 'h1'), window: gpuWindowAt(6, t0 + 6000, [gpuA(6)]), receivedAt: 0 });
    await again.flush();
    const rows = await again.memberBuckets({ metric: 'power_w', from: t0 + 6000, to: t0 + 7000, step: 1000, level: 'gpu', select: [{ site: 'seed', host: 'h1', from: t0, to: t0 + 10_000 }] });
    expect(rows.map((r) => r.energy_j)).toEqual([211]);
  });

  it('starts while VictoriaMetrics is down, degraded, and writes everything once it is up', async () => {
    const vm = await startVictoriaMetrics({ windowMs: 1000 });
    await vm.stop();
    const hooks = new RecordingHooks();
    const store = victoriaStore(vm.url, hooks);
    open.push({ store, vm });
    await store.start();
    for (let i = 0; i < 5; i++) store.enqueue({ kind: 'gpu', key: gpuKey('late', 'h1'), window: gpuWindowAt(i, 1_764_060_000_000 + i * 1000, [gpuC()]), receivedAt: Date.now() });
    await sleep(1000);
    expect(store.stats(Date.now())).toMatchObject({ degraded: true, pending_rows: 5 });
    expect(store.stats(Date.now()).last_error).toMatch(/does not answer|unreachable/);
    await vm.start();
    await store.flush();
    expect(hooks.acked.size).toBe(5);
    expect(store.stats(Date.now())).toMatchObject({ degraded: false, pending_rows: 0 });
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
    const { vm, store, hooks } = await setup();
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
