/**
 * Reading history back from a real VictoriaMetrics (Debian's package):
 * memberBuckets must give DuckDB's answers (bucket by window start, window-
 * weighted means, a missing window in the coverage), whether a bucket comes
 * from a range query or from raw samples (edges of a member's range, the
 * open bucket near now, mixed window lengths), and the shared history
 * contract must pass unchanged.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MemberBucket } from '../../../server/core/series.js';
import { type BucketRequest, memberName } from '../../../server/store/store.js';
import type { VictoriaStore } from '../../../server/store/victoria-store.js';
import { type EngineUnderTest, historyContract, writeHour } from '../../contracts/store-history.contract.js';
import { type VictoriaMetrics, startVictoriaMetrics } from '../../helpers/victoria-metrics.js';
import { RecordingHooks, cleanupDirs, gpuA, gpuC, gpuKey, gpuWindowAt, victoriaStore } from './victoria-fixtures.js';

const T0 = 1_764_003_600_000; // the hour after the contract's hour, so fleet-wide questions never see these windows
const S = 'hist';
let vm: VictoriaMetrics;
let store: VictoriaStore;
let engine: EngineUnderTest;
const liveTs: number[] = [];

beforeAll(async () => {
  vm = await startVictoriaMetrics({ windowMs: 1000 });
  store = victoriaStore(vm.url, new RecordingHooks());
  await store.start();
  for (let i = 0; i < 30; i++) {
    store.enqueue({ kind: 'gpu', key: gpuKey(S, 'h1'), window: gpuWindowAt(i, T0 + i * 1000, [gpuA(i)]), receivedAt: Date.now() });
    if (i !== 10) store.enqueue({ kind: 'gpu', key: gpuKey(S, 'h2'), window: gpuWindowAt(i, T0 + i * 1000, [gpuC()]), receivedAt: Date.now() });
  }
  // GPU m: five 1 s windows of 100 W, then 2 s windows of 200 W; GPU n: 5 s windows.
  for (let i = 0; i < 5; i++) store.enqueue({ kind: 'gpu', key: gpuKey('mix', 'h'), window: gpuWindowAt(i, T0 + i * 1000, [{ id: 'm', power_w: { mean: 100, min: 100, max: 100, last: 100, n: 1 } }]), receivedAt: 0 });
  for (const [k, ts] of [6000, 8000].entries()) store.enqueue({ kind: 'gpu', key: gpuKey('mix', 'h'), window: gpuWindowAt(5 + k, T0 + ts, [{ id: 'm', power_w: { mean: 200, min: 200, max: 200, last: 200, n: 1 } }], 2000), receivedAt: 0 });
  for (let k = 0; k < 6; k++) store.enqueue({ kind: 'gpu', key: gpuKey('mix', 'h5'), window: gpuWindowAt(k, T0 + k * 5000, [{ id: 'n', power_w: { mean: 10 * k, min: 10 * k, max: 10 * k, last: 10 * k, n: 1 } }], 5000), receivedAt: 0 });
  for (let i = 0; i < 3; i++) store.enqueue({ kind: 'gpu', key: gpuKey('odd site', 'h,1=x\\y'), window: gpuWindowAt(i, T0 + i * 1000, [{ ...gpuC(), id: 'GPU/1+# é' }]), receivedAt: 0 });
  // Eight windows ending just now: the open bucket of a query that reaches the present.
  const lastTs = Math.floor(Date.now() / 1000) * 1000 - 1000;
  for (let k = 7; k >= 0; k--) liveTs.push(lastTs - k * 1000);
  liveTs.forEach((ts, seq) => store.enqueue({ kind: 'gpu', key: gpuKey('live', 'h'), window: gpuWindowAt(seq, ts, [gpuC()]), receivedAt: Date.now() }));
  engine = { store, settle: () => store.flush() };
  await writeHour(engine); // enqueues the contract's hour, then flushes everything (written, durable, acknowledged)
}, 120_000);

afterAll(async () => {
  await store?.stop();
  await vm?.dispose();
  cleanupDirs();
});

const ask = (over: Partial<BucketRequest>) => store.memberBuckets({ metric: 'power_w', from: T0, to: T0 + 30_000, step: 10_000, level: 'gpu', ...over });
const row = (rows: MemberBucket[], member: string, t: number) => rows.find((r) => r.member === member && r.t === t);
const A = memberName(S, 'h1', 'a');
const C = memberName(S, 'h2', 'c');

describe('VictoriaMetrics member buckets', () => {
  it('whole buckets: mean, min, max, last, energy and coverage per GPU, a missing window counted out', async () => {
    const rows = await ask({ select: [{ site: S, host: 'h1', from: T0, to: T0 + 30_000 }, { site: S, host: 'h2', from: T0, to: T0 + 30_000 }] });
    expect(row(rows, A, T0)).toEqual({ member: A, t: T0, covered_ms: 10_000, mean: 104.5, min: 90, max: 159, last: 110, energy_j: 1045 });
    expect(row(rows, A, T0 + 10_000)).toEqual({ member: A, t: T0 + 10_000, covered_ms: 10_000, mean: 114.5, min: 100, max: 900, last: 120, energy_j: 1145 });
    expect(row(rows, C, T0 + 10_000)).toEqual({ member: C, t: T0 + 10_000, covered_ms: 9000, mean: 300, min: 300, max: 300, last: 300, energy_j: 2700 });
    expect(rows).toHaveLength(6);
    const util = await ask({ metric: 'util_pct', select: [{ site: S, host: 'h1', gpu: 'a', from: T0, to: T0 + 10_000 }] });
    expect(util).toEqual([{ member: A, t: T0, covered_ms: 10_000, mean: 50.9, min: 50, max: 52, last: 50, energy_j: 1045 }]);
    const temp = await ask({ metric: 'temp_c', select: [{ site: S, host: 'h1', gpu: 'a', from: T0, to: T0 + 10_000 }] });
    expect(temp[0]).toMatchObject({ mean: 74.5, min: 70, max: 79, last: 79 }); // the stored value is each window's max
  });

  it("the host level reads the edge's host totals, power only, without energy", async () => {
    const rows = await ask({ level: 'host', metric: 'util_pct', select: [{ site: S, host: 'h1', from: T0, to: T0 + 30_000 }] });
    expect(row(rows, memberName(S, 'h1'), T0 + 10_000)).toEqual({ member: memberName(S, 'h1'), t: T0 + 10_000, covered_ms: 10_000, mean: 114.5, min: 105, max: 159, last: 119 });
  });

  it("a member's own range: partial buckets are read raw, overlapping selectors count a window once", async () => {
    const rows = await ask({ select: [{ site: S, host: 'h1', gpu: 'a', from: T0 + 3500, to: T0 + 17_200 }] });
    expect(rows.sort((x, y) => x.t - y.t)).toEqual([
      { member: A, t: T0, covered_ms: 6000, mean: 106.5, min: 94, max: 159, last: 110, energy_j: 639 },
      { member: A, t: T0 + 10_000, covered_ms: 8000, mean: 113.5, min: 100, max: 900, last: 118, energy_j: 908 },
    ]);
    const overlapping = await ask({
      select: [
        { site: S, host: 'h1', gpu: 'a', from: T0 + 3500, to: T0 + 17_200 },
        { site: S, host: 'h1', gpu: 'a', from: T0 + 15_000, to: T0 + 20_000 },
        { site: S, host: 'h2', from: T0, to: T0 + 30_000 },
        { site: S, host: 'h2', gpu: 'c', from: T0, to: T0 + 5000 },
      ],
    });
    expect(row(overlapping, A, T0 + 10_000)).toEqual({ member: A, t: T0 + 10_000, covered_ms: 10_000, mean: 114.5, min: 100, max: 900, last: 120, energy_j: 1145 });
    expect(row(overlapping, C, T0)?.covered_ms).toBe(10_000);
  });

  it('weights the mean by window length when lengths mix, and buckets by window start when the length does not divide the step', async () => {
    const mixed = await ask({ select: [{ site: 'mix', host: 'h', from: T0, to: T0 + 10_000 }] });
    expect(mixed).toHaveLength(1);
    expect(mixed[0]!.covered_ms).toBe(9000);
    expect(mixed[0]!.mean).toBeCloseTo((5 * 100 * 1000 + 2 * 200 * 2000) / 9000, 9);
    const odd = await ask({ step: 2000, select: [{ site: 'mix', host: 'h5', from: T0, to: T0 + 30_000 }] });
    expect(odd.map((r) => [r.t - T0, r.covered_ms, r.mean]).sort((x, y) => x[0]! - y[0]!)).toEqual([
      [0, 5000, 0], [4000, 5000, 10], [10_000, 5000, 20], [14_000, 5000, 30], [20_000, 5000, 40], [24_000, 5000, 50],
    ]);
  });

  it('label values with separators, quotes and non-ASCII survive the round trip', async () => {
    const rows = await ask({ select: [{ site: 'odd site', host: 'h,1=x\\y', gpu: 'GPU/1+# é', from: T0, to: T0 + 10_000 }] });
    expect(rows).toEqual([{ member: memberName('odd site', 'h,1=x\\y', 'GPU/1+# é'), t: T0, covered_ms: 3000, mean: 300, min: 300, max: 300, last: 300, energy_j: 900 }]);
  });

  it('the bucket still open now is read raw, not as VictoriaMetrics\' copy of the bucket before it', async () => {
    const step = 60_000;
    const from = Math.floor(liveTs[0]! / step) * step - step;
    const rows = await store.memberBuckets({ metric: 'power_w', from, to: Date.now() + step, step, level: 'gpu', select: [{ site: 'live', host: 'h', from, to: Date.now() + step }] });
    const expected = new Map<number, number>();
    for (const ts of liveTs) expected.set(Math.floor(ts / step) * step, (expected.get(Math.floor(ts / step) * step) ?? 0) + 1000);
    expect(new Map(rows.map((r) => [r.t, r.covered_ms]))).toEqual(expected);
    expect(rows.every((r) => r.mean === 300 && r.energy_j === (r.covered_ms / 1000) * 300)).toBe(true);
  });
});

describe('history contract: VictoriaMetrics', () => historyContract(() => engine));
