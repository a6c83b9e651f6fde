/**
 * Compares what a collector recorded (--record) with what the server stored:
 * every produced window stored exactly once, with the same ts, GPU count and
 * energy, except the ranges the collector itself recorded as dropped, which
 * may be stored at most once. Reads the DuckDB file, so the server must have
 * stopped (DuckDB allows one process per file).
 */
import { readFileSync } from 'node:fs';
import { DuckDBInstance } from '@duckdb/node-api';
import type { RecordLine } from '../../collector/delivery/recorder.js';

export interface Comparison {
  produced: number;
  dropped: number;
  stored: number;
  missing: string[];
  duplicated: string[];
  mismatched: string[];
  unknown: string[];
  boots: number;
  summary: string;
}

export async function compareStoreWithRecord(recordFile: string, duckdbFile: string): Promise<Comparison> {
  const lines = readFileSync(recordFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as RecordLine);
  const produced = new Map<string, RecordLine>();
  const dropped = new Set<string>();
  for (const l of lines) {
    // The record holds every spooled stream (gpu, job, meter/<id>); the store's GPU windows are the gpu stream's.
    if (l.stream !== 'gpu') continue;
    if (l.dropped) for (let q = l.dropped[0]; q <= l.dropped[1]; q++) dropped.add(`${l.host}/${l.boot_id}/${q}`);
    else produced.set(`${l.host}/${l.boot_id}/${l.seq}`, l);
  }
  const db = await DuckDBInstance.create(duckdbFile);
  const conn = await db.connect();
  const rows = (
    await conn.runAndReadAll(
      `SELECT host, boot_id, seq::BIGINT AS seq, min(ts_ms)::BIGINT AS ts, count(*)::INT AS n_rows, count(DISTINCT gpu_id)::INT AS gpus,
              sum(energy_mj)::DOUBLE AS energy FROM gpu_windows GROUP BY host, boot_id, seq`,
    )
  ).getRowObjectsJS();
  conn.closeSync();
  db.closeSync();

  const c: Comparison = { produced: produced.size, dropped: dropped.size, stored: rows.length, missing: [], duplicated: [], mismatched: [], unknown: [], boots: 0, summary: '' };
  const stored = new Set<string>();
  for (const r of rows) {
    const id = `${r.host}/${r.boot_id}/${r.seq}`;
    stored.add(id);
    const rec = produced.get(id);
    if ((r.n_rows as number) !== (r.gpus as number)) c.duplicated.push(`${id} stored ${(r.n_rows as number) / (r.gpus as number)} times`);
    if (!rec) {
      c.unknown.push(id);
      continue;
    }
    if (Number(r.ts) !== rec.ts || r.gpus !== rec.gpus || Math.abs((r.energy as number) - (rec.energy_mj ?? 0)) > 1e-6) {
      c.mismatched.push(`${id}: stored ts ${r.ts} gpus ${r.gpus} energy ${r.energy}, recorded ts ${rec.ts} gpus ${rec.gpus} energy ${rec.energy_mj}`);
    }
  }
  for (const id of produced.keys()) if (!stored.has(id) && !dropped.has(id)) c.missing.push(id);
  c.boots = new Set(lines.map((l) => l.boot_id)).size;
  c.summary =
    `record: ${c.produced} windows produced in ${c.boots} boot(s), ${c.dropped} dropped by the collector; ` +
    `store: ${c.stored} windows; missing ${c.missing.length}, duplicated ${c.duplicated.length}, mismatched ${c.mismatched.length}, not in record ${c.unknown.length}`;
  return c;
}

/** Outage lengths are parameters: short here, long in `npm run soak` (KW_OUTAGE_MS). */
export const OUTAGE_MS = Number(process.env.KW_OUTAGE_MS ?? 3000);
