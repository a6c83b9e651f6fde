/** The soak run's comparison of the store with the collectors' records (bench/soak/compare.ts) and its reading of health lines (spools.ts). */
import { describe, expect, it } from 'vitest';
import type { RecordLine } from '../../collector/delivery/recorder.js';
import { type StoredWindow, byBootSeq, byHostTs, collectRecords, compareWindows, describeTally, parseRecordText } from '../../bench/soak/compare.js';
import { drained, parseHealthLine, steadySpooled } from '../../bench/soak/spools.js';

const T = 1_764_000_000_000;
const rec = (host: string, boot: string, seq: number, over: Partial<RecordLine> = {}): RecordLine =>
  ({ host, stream: 'gpu', boot_id: boot, seq, ts: T + seq * 1000, energy_mj: 1000 * seq, gpus: 8, ...over });
const row = (r: RecordLine, over: Partial<StoredWindow> = {}): StoredWindow =>
  ({ id: byBootSeq(r), ts: r.ts!, rows: r.gpus!, gpus: r.gpus!, energy: r.energy_mj!, ...over });

describe('comparing the store with the records', () => {
  const lines = [rec('h1', 'a', 1), rec('h1', 'a', 2), rec('h1', 'a', 3), rec('h1', 'a', 4), rec('h2', 'b', 1), rec('h2', 'b', 2)];

  it('counts every produced window stored once as stored, and nothing else', () => {
    const t = compareWindows(collectRecords(lines), lines.map((l) => row(l)), byBootSeq, 0, Infinity);
    expect(t).toMatchObject({ produced: 6, stored: 6, lost: 0, duplicated: 0, mismatched: 0, dropped: 0, unknown: 0, boots: 2 });
    expect(describeTally(t)).toBe(
      'record: 6 windows produced in 2 boot(s), 0 of them recorded as dropped by the collector; store: 6 of them; ' +
        'lost 0, stored more than once 0, stored with other values 0, in no record 0',
    );
  });

  it('tells lost from recorded as dropped, duplicated, mismatched and unknown, with examples', () => {
    const records = collectRecords([...lines, { host: 'h1', stream: 'gpu', boot_id: 'a', dropped: [2, 3] }]);
    const stored = [
      row(lines[0]!, { rows: 16 }), // stored twice: 16 rows for 8 GPUs
      row(lines[2]!), // dropped by the collector, yet stored once: fine
      row(lines[4]!, { energy: 1 }), // other energy than recorded
      row(lines[5]!),
      { id: 'h9/x/1', ts: T + 1000, rows: 8, gpus: 8, energy: 0 }, // no record names it
    ];
    const t = compareWindows(records, stored, byBootSeq, 0, Infinity);
    // h1/a/4 is lost; h1/a/2 is missing too, but the collector recorded it as dropped.
    expect(t).toMatchObject({ produced: 6, stored: 4, lost: 1, duplicated: 1, mismatched: 1, dropped: 2, unknown: 1 });
    expect(t.examples.lost).toEqual([`h1/a/4 (ts ${T + 4000})`]);
    expect(t.examples.duplicated).toEqual(['h1/a/1: 16 rows for 8 GPUs']);
    expect(t.examples.unknown).toEqual(['h9/x/1']);
    expect(t.examples.mismatched).toEqual([`h2/b/1: stored ts ${T + 1000}, 8 GPUs, 1 mJ; recorded ts ${T + 1000}, 8 GPUs, 1000 mJ`]);
    // The line names every problem with its examples, so a failing test says which windows.
    expect(describeTally(t)).toBe(
      'record: 6 windows produced in 2 boot(s), 2 of them recorded as dropped by the collector; store: 4 of them; ' +
        'lost 1, stored more than once 1, stored with other values 1, in no record 1; ' +
        `lost, e.g. h1/a/4 (ts ${T + 4000}); stored more than once, e.g. h1/a/1: 16 rows for 8 GPUs; ` +
        `stored with other values, e.g. h2/b/1: stored ts ${T + 1000}, 8 GPUs, 1 mJ; recorded ts ${T + 1000}, 8 GPUs, 1000 mJ; in no record, e.g. h9/x/1`,
    );
  });

  it('counts the boots of the windows in the range: a restarted collector is a new boot, and its windows interleave with the old ones', () => {
    const records = collectRecords([rec('h1', 'a', 1), rec('h2', 'a', 1), rec('h1', 'b', 0, { ts: T + 500 }), rec('h1', 'c', 9)]);
    expect(compareWindows(records, [], byBootSeq, 0, T + 2000).boots).toBe(2); // boot c's window starts after the range
    expect(compareWindows(records, [], byBootSeq, 0, Infinity).boots).toBe(3);
    expect(compareWindows(records, [], byBootSeq, T + 20_000, Infinity).boots).toBe(0);
  });

  it('counts only windows that started in [from, to): later ones may still be on their way', () => {
    const t = compareWindows(collectRecords(lines), [row(lines[0]!)], byBootSeq, T + 1000, T + 3000);
    expect(t).toMatchObject({ produced: 4, stored: 1, lost: 3 }); // seq 1 and 2 of both hosts; h1/a/1 stored
  });

  it('keys VictoriaMetrics windows by host and start, and still knows the dropped ones by boot and seq', () => {
    const records = collectRecords([rec('h1', 'a', 1), rec('h1', 'a', 2), { host: 'h1', stream: 'gpu', boot_id: 'a', dropped: [2, 2] }]);
    const t = compareWindows(records, [{ id: `h1/${T + 1000}`, ts: T + 1000, rows: 8, gpus: 8, energy: 1000 }], byHostTs, 0, Infinity);
    expect(t).toMatchObject({ produced: 2, stored: 1, lost: 0, dropped: 1 });
  });

  it('reads only the gpu stream, and leaves a record line still being written for the next read', () => {
    const text = [JSON.stringify(rec('h1', 'a', 1)), JSON.stringify({ host: 'h1', stream: 'job', boot_id: 'a', seq: 1, ts: T }), '{"host":"h1","str'].join('\n');
    const parsed = parseRecordText(text);
    expect(parsed).toHaveLength(2);
    expect(collectRecords(parsed).produced).toHaveLength(1);
  });
});

describe('collector health lines', () => {
  const line = (spooled: number) =>
    `collector health: {"readings_dropped":0,"mqtt_connects":8,"gpu_produced":100,"gpu_spooled":${spooled},"gpu_dropped":1,"job_spooled":1,"meter/rack-0_spooled":2,` +
    `"process":{"rss_bytes":1,"heap_used_bytes":1,"event_loop_delay_ms":{"p50":0.1,"p99":2,"max":5},"interval_s":5}}`;

  it('sums what every stream still holds, and keeps the process figures', () => {
    const h = parseHealthLine(line(10), 5);
    expect(h).toMatchObject({ at: 5, spooled: 13, produced: 100, dropped: 1 });
    expect(h?.process?.event_loop_delay_ms.p99).toBe(2);
    expect(parseHealthLine('collector: SIMULATED fleet of 8 hosts', 0)).toBeUndefined();
    expect(parseHealthLine('collector health: {broken', 0)).toBeUndefined();
  });

  it('calls the spools drained when the last two lines after the fault are back near the steady level', () => {
    const lines = [10, 12, 11, 13, 400, 900, 300, 40, 20, 18].map((s, i) => parseHealthLine(line(s), i * 5000)!);
    const steady = steadySpooled(lines.slice(0, 4));
    expect(steady).toBe(14.5); // medians of 13, 15, 14, 16
    // Bound: 14.5 x 1.5 + 2 per host (8) = 37.75.
    expect(drained(lines.slice(0, 8), 20_000, steady, 8)).toBe(false); // 300, then 43
    expect(drained(lines.slice(0, 9), 20_000, steady, 8)).toBe(false); // 43, 23: one line in bound
    expect(drained(lines, 20_000, steady, 8)).toBe(true); // 23, 21
    // Lines from before the fault ended never count.
    expect(drained(lines.slice(0, 4), 20_000, steady, 8)).toBe(false);
  });
});
