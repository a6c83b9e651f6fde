/**
 * The delivery fault tests' check is the soak's (bench/soak/compare.ts): the
 * collector's --record file against a stopped server's DuckDB file (DuckDB
 * allows one process per file). Every produced window is stored exactly once,
 * with the same ts, GPU count and energy, except the ranges the collector
 * itself recorded as dropped, which may be stored at most once; no stored
 * window is missing from the record.
 */
import { expect } from 'vitest';
import { type Tally, byBootSeq, collectRecords, compareWindows, describeTally } from '../../bench/soak/compare.js';
import { duckdbFileWindows, readRecordFiles } from '../../bench/soak/store-read.js';

/** Compares the whole record with the whole store, prints what it compared (`[label] ...`, then `note`) and asserts that nothing went wrong. */
export async function expectStoreMatchesRecord(label: string, recordFile: string, duckdbFile: string, note = ''): Promise<Tally> {
  const records = collectRecords(readRecordFiles([recordFile]));
  const t = compareWindows(records, await duckdbFileWindows(duckdbFile), byBootSeq, -Infinity, Infinity);
  console.log(`[${label}] ${describeTally(t)}${note}`);
  expect(t).toMatchObject({ lost: 0, duplicated: 0, mismatched: 0, unknown: 0, examples: { lost: [], duplicated: [], mismatched: [], unknown: [] } });
  expect(t.produced).toBeGreaterThan(10);
  return t;
}

/** Outage lengths are parameters: short here, long in `npm run soak` (KW_OUTAGE_MS). */
export const OUTAGE_MS = Number(process.env.KW_OUTAGE_MS ?? 3000);
