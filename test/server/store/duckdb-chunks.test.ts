import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CHUNK_ROWS, ChunkWriter } from '../../../server/store/duckdb-chunks.js';

let db: DuckDBInstance;
let conn: DuckDBConnection;
beforeEach(async () => {
  db = await DuckDBInstance.create(':memory:');
  conn = await db.connect();
  await conn.run('CREATE TABLE t (s VARCHAR, d DOUBLE, b BIGINT, i INTEGER)');
});
afterEach(() => {
  conn.closeSync();
  db.closeSync();
});

type Row = { s: string | null; d: number | null; b: number | null; i: number | null };

async function roundTrip(rows: readonly Row[]): Promise<Row[]> {
  const w = await ChunkWriter.open(conn, 't');
  for (const r of rows) w.varchar(r.s).double(r.d).bigint(r.b).integer(r.i).endRow();
  w.close();
  const out = (await conn.runAndReadAll('SELECT rowid, s, d, b, i FROM t ORDER BY rowid')).getRowObjectsJS();
  return out.map((r) => ({ s: r.s as string | null, d: r.d as number | null, b: r.b === null ? null : Number(r.b), i: r.i as number | null }));
}

describe('ChunkWriter (a real in-memory DuckDB)', () => {
  it('round-trips every column type, edge values included', async () => {
    const rows: Row[] = [
      { s: 'GPU-0', d: 412.5, b: 1_764_000_000_000, i: 1000 },
      { s: '', d: -0.25, b: -1, i: -2_147_483_648 },
      { s: 'exactly12chr', d: Number.MAX_VALUE, b: Number.MAX_SAFE_INTEGER, i: 2_147_483_647 },
      { s: 'thirteen char', d: 1e-300, b: Number.MIN_SAFE_INTEGER, i: 0 },
      { s: 'GPU-5c5f4a8b-1d2e-4f00-8a00-0123456789ab', d: 0, b: 0, i: 7 },
      { s: 'wärme', d: 1, b: 4_294_967_296, i: 1 }, // 6 bytes in UTF-8, inline
      { s: 'Ünïcödé', d: 2, b: -4_294_967_297, i: 2 }, // 7 characters, 11 bytes: inline
      { s: 'ÜÜÜÜÜÜÜ', d: 3, b: 2 ** 40 + 3, i: 3 }, // 7 characters, 14 bytes: long
      { s: '日本語のホスト名', d: 4, b: -(2 ** 40) - 3, i: 4 },
    ];
    expect(await roundTrip(rows)).toEqual(rows);
  });

  it('writes absent values as NULL, never 0, in every column type', async () => {
    const rows: Row[] = [
      { s: null, d: null, b: null, i: null },
      { s: 'a', d: 0, b: 0, i: 0 },
      { s: null, d: 1, b: null, i: 2 },
      { s: 'a long string after a NULL', d: null, b: 3, i: null },
    ];
    expect(await roundTrip(rows)).toEqual(rows);
    const w = await ChunkWriter.open(conn, 't');
    w.varchar(undefined).double(undefined).bigint(undefined).integer(undefined).endRow();
    w.varchar('x').nulls(3).endRow();
    w.close();
    expect((await conn.runAndReadAll('SELECT count(*) AS n FROM t WHERE d IS NULL AND b IS NULL AND i IS NULL')).getRowObjectsJS()).toEqual([{ n: 3n }]);
  });

  it('spans chunks: more rows than one chunk, runs of repeated strings (long, 12 bytes, short), NULLs across a chunk edge', async () => {
    const n = CHUNK_ROWS * 2 + 17;
    const run = (k: number) => Math.floor(k / 8); // a window's 8 GPU rows share site, host and boot id
    const text = (k: number) => [`host-${Math.floor(run(k) / 3) % 3}.a-rather-long-domain.example.org`, `twelve-${String(run(k) % 1000).padStart(5, '0')}`, `h${run(k)}`][run(k) % 3]!;
    const rows: Row[] = Array.from({ length: n }, (_, k) => ({
      s: k % 7 === 0 ? null : text(k),
      d: k % 5 === 0 ? null : k / 4,
      b: k % 11 === 0 ? null : 1_764_000_000_000 + k,
      i: k === CHUNK_ROWS - 1 || k === CHUNK_ROWS ? null : k,
    }));
    expect(await roundTrip(rows)).toEqual(rows);
    const distinct = (await conn.runAndReadAll("SELECT count(DISTINCT s) AS n FROM t WHERE s LIKE 'host-%'")).getRowObjectsJS();
    expect(distinct).toEqual([{ n: 3n }]);
    const twelve = (await conn.runAndReadAll("SELECT count(*) AS n FROM t WHERE s = 'twelve-00001'")).getRowObjectsJS();
    expect(twelve).toEqual([{ n: BigInt(rows.filter((r) => r.s === 'twelve-00001').length) }]);
  });

  it('reads back and compares equal a short string written where a longer one stood in the chunk before', async () => {
    const rows: Row[] = Array.from({ length: 2 * CHUNK_ROWS }, (_, k) => ({ s: k < CHUNK_ROWS ? (k % 2 ? 'abcdefghijkl' : 'counter') : 'ab', d: k, b: k, i: k }));
    rows.push({ s: 'counter', d: 0, b: 0, i: 0 }, { s: 'mean', d: 0, b: 0, i: 0 }, { s: 'counter', d: 0, b: 0, i: 0 });
    await roundTrip(rows);
    const groups = (await conn.runAndReadAll('SELECT s, count(*) AS n FROM t GROUP BY s ORDER BY s')).getRowObjectsJS();
    expect(groups).toEqual([
      { s: 'ab', n: BigInt(CHUNK_ROWS) },
      { s: 'abcdefghijkl', n: BigInt(CHUNK_ROWS / 2) },
      { s: 'counter', n: BigInt(CHUNK_ROWS / 2 + 2) },
      { s: 'mean', n: 1n },
    ]);
    expect((await conn.runAndReadAll("SELECT count(*) AS n FROM t WHERE s = 'ab'")).getRowObjectsJS()).toEqual([{ n: BigInt(CHUNK_ROWS) }]);
  });

  it('leaves nothing of one writer in the next (buffers are reused): no NULL, string or value carries over', async () => {
    const first = await ChunkWriter.open(conn, 't');
    for (let k = 0; k < 100; k++) first.varchar(k % 2 ? null : 'a string longer than twelve bytes').double(null).bigint(null).integer(null).endRow();
    first.close();
    await conn.run('DELETE FROM t');
    const rows: Row[] = Array.from({ length: 100 }, (_, k) => ({ s: `s${k}`, d: k, b: k, i: k }));
    expect(await roundTrip(rows)).toEqual(rows);
  });

  it('refuses a value of the wrong type, a row of the wrong length and a BIGINT that is not a safe integer', async () => {
    const w = await ChunkWriter.open(conn, 't');
    expect(() => w.double(1)).toThrow(/column 0 is VARCHAR, not DOUBLE/);
    const w2 = await ChunkWriter.open(conn, 't');
    w2.varchar('a').double(1);
    expect(() => w2.endRow()).toThrow(/2 values for 4 columns/);
    const w3 = await ChunkWriter.open(conn, 't');
    expect(() => w3.varchar('a').double(1).bigint(1.5)).toThrow(/not a safe integer/);
  });

  it('refuses a table with a column type it cannot write', async () => {
    await conn.run('CREATE TABLE u (x BOOLEAN)');
    await expect(ChunkWriter.open(conn, 'u')).rejects.toThrow(/BOOLEAN/);
  });

  it('lands in the open transaction: a rollback leaves nothing', async () => {
    await conn.run('BEGIN TRANSACTION');
    await roundTrip([{ s: 'x', d: 1, b: 1, i: 1 }]);
    await conn.run('ROLLBACK');
    expect((await conn.runAndReadAll('SELECT count(*) AS n FROM t')).getRowObjectsJS()).toEqual([{ n: 0n }]);
  });
});
