/**
 * What the store holds against what the collectors recorded (--record),
 * pure: over a range of window start times, how many windows were produced,
 * stored, lost (produced, not stored, and not in a range the collector
 * recorded as dropped), stored more than once, stored with other values,
 * and recorded as dropped. The store side is read by store-read.ts: from a
 * DuckDB backup or a stopped server's file, keyed by (host, boot, seq); from
 * VictoriaMetrics, keyed by (host, ts), since its samples carry no boot or
 * seq. The soak's checks and the delivery fault tests
 * (test/helpers/delivery-check.ts) both compare with it.
 */
import type { RecordLine } from '../../collector/delivery/recorder.js';

/** One window as the store holds it. */
export interface StoredWindow {
  id: string;
  ts: number;
  /** GPU rows (DuckDB) or samples (VictoriaMetrics) of the window, and the distinct GPUs among them: more rows than GPUs is a duplicate. */
  rows: number;
  gpus: number;
  /** Sum of the GPUs' energy counters, mJ. */
  energy: number;
}

export type WindowKey = (r: RecordLine) => string;
export const byBootSeq: WindowKey = (r) => `${r.host}/${r.boot_id}/${r.seq}`;
export const byHostTs: WindowKey = (r) => `${r.host}/${r.ts}`;

export interface Tally {
  produced: number;
  stored: number;
  lost: number;
  duplicated: number;
  mismatched: number;
  /** Produced windows the collector recorded as dropped from a full spool (stored at most once, or not at all). */
  dropped: number;
  /** Stored windows in the range that no record names. */
  unknown: number;
  /** Collector incarnations (boot ids) among the produced windows: a restarted collector is a new one. */
  boots: number;
  /** A few ids of each problem, for the report. */
  examples: { lost: string[]; duplicated: string[]; mismatched: string[]; unknown: string[] };
}

/** The gpu stream's produced windows and dropped seqs, from the lines of every record file. */
export interface Records {
  produced: RecordLine[];
  dropped: Set<string>;
}

export function collectRecords(lines: Iterable<RecordLine>): Records {
  const produced: RecordLine[] = [];
  const dropped = new Set<string>();
  for (const l of lines) {
    if (l.stream !== 'gpu') continue; // the store's GPU windows are the gpu stream's
    if (l.dropped) for (let q = l.dropped[0]; q <= l.dropped[1]; q++) dropped.add(`${l.host}/${l.boot_id}/${q}`);
    else if (l.seq !== undefined && l.ts !== undefined) produced.push(l);
  }
  return { produced, dropped };
}

/** Parses JSON lines; a last line still being written (no newline yet, or cut short) is left for the next read. */
export function parseRecordText(text: string): RecordLine[] {
  const end = text.lastIndexOf('\n');
  const out: RecordLine[] = [];
  for (const line of text.slice(0, end + 1).split('\n')) if (line) out.push(JSON.parse(line) as RecordLine);
  return out;
}

const EXAMPLES = 5;
const energyDiffers = (a: number, b: number) => Math.abs(a - b) > Math.max(1e-6, Math.abs(b) * 1e-12);

/** Windows whose start lies in [from, to). */
export function compareWindows(records: Records, stored: readonly StoredWindow[], key: WindowKey, from: number, to: number): Tally {
  const t: Tally = { produced: 0, stored: 0, lost: 0, duplicated: 0, mismatched: 0, dropped: 0, unknown: 0, boots: 0, examples: { lost: [], duplicated: [], mismatched: [], unknown: [] } };
  const note = (kind: keyof Tally['examples'], text: string) => void (t.examples[kind].length < EXAMPLES && t.examples[kind].push(text));
  const byId = new Map(stored.map((s) => [s.id, s]));
  const known = new Set<string>();
  const boots = new Set<string>();
  for (const r of records.produced) {
    const id = key(r);
    known.add(id);
    if (r.ts! < from || r.ts! >= to) continue;
    t.produced += 1;
    boots.add(r.boot_id);
    const wasDropped = records.dropped.has(byBootSeq(r));
    if (wasDropped) t.dropped += 1;
    const s = byId.get(id);
    if (!s) {
      if (!wasDropped) {
        t.lost += 1;
        note('lost', `${id} (ts ${r.ts})`);
      }
      continue;
    }
    t.stored += 1;
    if (s.rows > s.gpus) {
      t.duplicated += 1;
      note('duplicated', `${id}: ${s.rows} rows for ${s.gpus} GPUs`);
    }
    if (s.ts !== r.ts || s.gpus !== r.gpus || energyDiffers(s.energy, r.energy_mj ?? 0)) {
      t.mismatched += 1;
      note('mismatched', `${id}: stored ts ${s.ts}, ${s.gpus} GPUs, ${s.energy} mJ; recorded ts ${r.ts}, ${r.gpus} GPUs, ${r.energy_mj} mJ`);
    }
  }
  for (const s of stored) {
    if (s.ts >= from && s.ts < to && !known.has(s.id)) {
      t.unknown += 1;
      note('unknown', s.id);
    }
  }
  t.boots = boots.size;
  return t;
}

const PROBLEMS: Record<keyof Tally['examples'], string> = { lost: 'lost', duplicated: 'stored more than once', mismatched: 'stored with other values', unknown: 'in no record' };

/** One line of what was compared, with the example ids of each problem found. */
export function describeTally(t: Tally): string {
  const kinds = Object.keys(PROBLEMS) as (keyof Tally['examples'])[];
  const problems = kinds.filter((k) => t[k] > 0).map((k) => `; ${PROBLEMS[k]}, e.g. ${t.examples[k].join(', ')}`);
  return (
    `record: ${t.produced} windows produced in ${t.boots} boot(s), ${t.dropped} of them recorded as dropped by the collector; store: ${t.stored} of them; ` +
    kinds.map((k) => `${PROBLEMS[k]} ${t[k]}`).join(', ') +
    problems.join('')
  );
}
