/**
 * Rows into a DuckDB appender a data chunk at a time. The row appender of
 * @duckdb/node-api makes one native call per value; this writer keeps each
 * column of up to 2048 rows (DuckDB's vector size) in a JS typed array and
 * hands the chunk over with one copy per column, so the tables' code says
 * which value goes in which column and the writer does the chunking, the
 * NULLs and the flushing. Absent values (undefined or null) are NULL.
 *
 * Column types come from the appender (the table's own), and each value is
 * checked against its column's type, so a misordered row fails loudly.
 * Values and the validity mask are written in DuckDB's in-memory layout,
 * little-endian, as on every platform @duckdb/node-bindings ships for.
 *
 * Strings: DuckDB's string_t is 16 bytes, a u32 length and then either the
 * string itself (up to 12 bytes, zero padded) or a 4-byte prefix and a
 * pointer into the vector's string heap (duckdb.h, duckdb_string_t). Short
 * strings are written inline into the column buffer, a long one is handed
 * to DuckDB (one native call), and a value equal to the row before it (the
 * site, host and boot id of a window's GPU rows) copies that row's string_t
 * instead, sharing its heap copy.
 */
import duckdb, { type Vector } from '@duckdb/node-bindings';
import { type DuckDBAppender, type DuckDBConnection, DuckDBDataChunk, type DuckDBType, DuckDBTypeId } from '@duckdb/node-api';

/** DuckDB's vector size: the most rows a data chunk holds. */
export const CHUNK_ROWS = 2048;

const VARCHAR = 0;
const DOUBLE = 1;
const BIGINT = 2;
const INTEGER = 3;
type Kind = typeof VARCHAR | typeof DOUBLE | typeof BIGINT | typeof INTEGER;
const KIND_NAMES = ['VARCHAR', 'DOUBLE', 'BIGINT', 'INTEGER'];
const KINDS: Partial<Record<DuckDBTypeId, Kind>> = {
  [DuckDBTypeId.VARCHAR]: VARCHAR,
  [DuckDBTypeId.DOUBLE]: DOUBLE,
  [DuckDBTypeId.BIGINT]: BIGINT,
  [DuckDBTypeId.INTEGER]: INTEGER,
};
const STRING_T = 16;
const INLINE = 12;
const TWO_32 = 4_294_967_296;

/** One column of the current chunk: its values as DuckDB lays them out, and a validity bit per row. */
class Column {
  readonly buffer: ArrayBuffer;
  readonly bytes: Uint8Array;
  readonly f64: Float64Array;
  readonly i32: Int32Array;
  readonly validity = new Uint32Array(CHUNK_ROWS / 32).fill(0xffffffff);
  hasNull = false;
  /**
   * Long strings (varchar only): the string of each row that holds a new one,
   * and for every row the row whose string it repeats (itself for a new one),
   * -1 for inline and NULL.
   */
  readonly long: (string | undefined)[] = [];
  readonly longFrom: Int32Array;
  hasLong = false;
  /** The previous row's string (varchar only): a repeat copies its string_t instead of encoding it again. */
  last: string | undefined;

  constructor(readonly kind: Kind) {
    const buffer = new ArrayBuffer(CHUNK_ROWS * (kind === VARCHAR ? STRING_T : 8));
    this.buffer = buffer;
    this.bytes = new Uint8Array(buffer);
    this.f64 = new Float64Array(buffer, 0, buffer.byteLength >> 3);
    this.i32 = new Int32Array(buffer);
    this.longFrom = new Int32Array(kind === VARCHAR ? CHUNK_ROWS : 0);
  }

  setNull(row: number): void {
    this.validity[row >>> 5]! &= ~(1 << (row & 31));
    this.hasNull = true;
    if (this.kind === VARCHAR) {
      this.bytes.fill(0, row * STRING_T, (row + 1) * STRING_T); // no stale string_t under a NULL
      this.longFrom[row] = -1;
      this.last = undefined;
    }
  }

  /** Back to all valid, no long strings: the state of a fresh chunk. */
  reset(): void {
    if (this.hasNull) this.validity.fill(0xffffffff);
    if (this.hasLong) this.long.length = 0;
    this.hasNull = false;
    this.hasLong = false;
    this.last = undefined;
  }
}

/** A data chunk and its columns' buffers, reused by the next writer of the same column types. */
interface Buffers {
  chunk: DuckDBDataChunk;
  columns: Column[];
}
const spare = new Map<string, Buffers[]>();
/** Buffers kept per column types: one per table written in a batch is enough. */
const SPARE_PER_TYPES = 2;

export class ChunkWriter {
  private readonly buffers: Buffers;
  private readonly columns: Column[];
  private readonly types: string;
  private row = 0;
  private col = 0;
  private readonly scratch = new Uint8Array(3 * INLINE);
  private readonly encoder = new TextEncoder();

  /** The appender's columns decide the chunk's types; VARCHAR, DOUBLE, BIGINT and INTEGER are supported. */
  constructor(private readonly appender: DuckDBAppender) {
    const types: DuckDBType[] = [];
    const kinds: Kind[] = [];
    for (let i = 0; i < appender.columnCount; i++) {
      const type = appender.columnType(i);
      const kind = KINDS[type.typeId];
      if (kind === undefined) throw new Error(`ChunkWriter: column ${i} has type ${type.toString()}, which it cannot write`);
      types.push(type);
      kinds.push(kind);
    }
    this.types = kinds.join('');
    this.buffers = spare.get(this.types)?.pop() ?? { chunk: DuckDBDataChunk.create(types), columns: kinds.map((k) => new Column(k)) };
    this.columns = this.buffers.columns;
  }

  /** A writer on a new appender of `table` (the rows land in the connection's open transaction on close). */
  static async open(conn: DuckDBConnection, table: string, schema?: string, catalog?: string): Promise<ChunkWriter> {
    return new ChunkWriter(await conn.createAppender(table, schema, catalog));
  }

  private next(kind: Kind): Column {
    const c = this.columns[this.col];
    if (c === undefined) throw new Error(`ChunkWriter: row has more than ${this.columns.length} values`);
    if (c.kind !== kind) throw new Error(`ChunkWriter: column ${this.col} is ${KIND_NAMES[c.kind]}, not ${KIND_NAMES[kind]}`);
    this.col += 1;
    return c;
  }

  double(v: number | null | undefined): this {
    const c = this.next(DOUBLE);
    if (v === undefined || v === null) c.setNull(this.row);
    else c.f64[this.row] = v;
    return this;
  }

  integer(v: number | null | undefined): this {
    const c = this.next(INTEGER);
    if (v === undefined || v === null) c.setNull(this.row);
    else if ((v | 0) !== v) throw new Error(`ChunkWriter: ${v} is not a 32-bit integer`);
    else c.i32[this.row] = v;
    return this;
  }

  /** A 64-bit integer from a safe JS integer (every count, time and sequence number here), without a BigInt. */
  bigint(v: number | null | undefined): this {
    const c = this.next(BIGINT);
    if (v === undefined || v === null) c.setNull(this.row);
    else if (!Number.isSafeInteger(v)) throw new Error(`ChunkWriter: ${v} is not a safe integer`);
    else {
      // Little-endian two's complement: the low word is v mod 2^32, the high word floor(v / 2^32).
      c.i32[2 * this.row] = v >>> 0;
      c.i32[2 * this.row + 1] = Math.floor(v / TWO_32);
    }
    return this;
  }

  varchar(v: string | null | undefined): this {
    const c = this.next(VARCHAR);
    const row = this.row;
    if (v === undefined || v === null) {
      c.setNull(row);
      return this;
    }
    if (v === c.last) {
      // The previous row's string_t, or for a long string the row that places it.
      const a = c.i32;
      const at = row * 4;
      a[at] = a[at - 4]!;
      a[at + 1] = a[at - 3]!;
      a[at + 2] = a[at - 2]!;
      a[at + 3] = a[at - 1]!;
      c.longFrom[row] = c.longFrom[row - 1]!;
    } else if (this.inline(c.bytes, row * STRING_T, v)) c.longFrom[row] = -1;
    else {
      c.long[row] = v;
      c.longFrom[row] = row;
      c.hasLong = true;
    }
    c.last = v;
    return this;
  }

  /** `n` NULLs in a row (an absent group of columns). */
  nulls(n: number): this {
    for (let i = 0; i < n; i++) {
      const c = this.columns[this.col++];
      if (c === undefined) throw new Error(`ChunkWriter: row has more than ${this.columns.length} values`);
      c.setNull(this.row);
    }
    return this;
  }

  endRow(): void {
    if (this.col !== this.columns.length) throw new Error(`ChunkWriter: row has ${this.col} values for ${this.columns.length} columns`);
    this.col = 0;
    if (++this.row === CHUNK_ROWS) this.flush();
  }

  /** Appends the last chunk and closes the appender: the rows are then in the connection's open transaction. */
  close(): void {
    if (this.col !== 0) throw new Error('ChunkWriter: closed in the middle of a row');
    this.flush();
    this.appender.closeSync();
    let list = spare.get(this.types);
    if (!list) spare.set(this.types, (list = []));
    if (list.length < SPARE_PER_TYPES) list.push(this.buffers);
  }

  /** Writes a string of at most 12 UTF-8 bytes into its string_t; false for a longer one. */
  private inline(bytes: Uint8Array, at: number, s: string): boolean {
    if (s.length > INLINE) return false;
    let i = 0;
    for (; i < s.length; i++) {
      const code = s.charCodeAt(i);
      if (code >= 0x80) break;
      bytes[at + 4 + i] = code;
    }
    let length = i;
    if (i < s.length) {
      const { written } = this.encoder.encodeInto(s, this.scratch);
      if (written > INLINE) return false;
      bytes.set(this.scratch.subarray(0, written), at + 4);
      length = written;
    }
    bytes.fill(0, at + 4 + length, at + STRING_T); // DuckDB compares inline strings on all 16 bytes
    bytes[at] = length; // u32 little-endian, length <= 12
    bytes[at + 1] = 0;
    bytes[at + 2] = 0;
    bytes[at + 3] = 0;
    return true;
  }

  private flush(): void {
    const rows = this.row;
    if (rows === 0) return;
    const raw = this.buffers.chunk.chunk;
    duckdb.data_chunk_set_size(raw, rows);
    for (let i = 0; i < this.columns.length; i++) {
      const c = this.columns[i]!;
      const vector = duckdb.data_chunk_get_vector(raw, i);
      const width = c.kind === VARCHAR ? STRING_T : c.kind === INTEGER ? 4 : 8;
      if (c.hasLong) this.placeLongStrings(vector, c, rows);
      duckdb.copy_data_to_vector(vector, 0, c.buffer, 0, rows * width);
      if (c.hasNull) {
        duckdb.vector_ensure_validity_writable(vector);
        duckdb.copy_data_to_vector_validity(vector, 0, c.validity.buffer, 0, Math.ceil(rows / 64) * 8);
      }
      c.reset();
    }
    this.appender.appendDataChunk(this.buffers.chunk);
    duckdb.data_chunk_reset(raw);
    this.row = 0;
  }

  /**
   * Hands each new long string to DuckDB (it copies it into the vector's
   * string heap and writes its string_t there), reads the string_t's back,
   * and puts them, and those of the rows that repeat them, in the buffer
   * that is then copied over the vector whole.
   */
  private placeLongStrings(vector: Vector, c: Column, rows: number): void {
    for (let r = 0; r < rows; r++) if (c.longFrom[r] === r) duckdb.vector_assign_string_element(vector, r, c.long[r]!);
    const bytes = duckdb.vector_get_data(vector, rows * STRING_T);
    const placed = new Int32Array(bytes.buffer, bytes.byteOffset, rows * 4);
    const a = c.i32;
    for (let r = 0; r < rows; r++) {
      const from = c.longFrom[r]!;
      if (from < 0) continue;
      a[r * 4] = placed[from * 4]!;
      a[r * 4 + 1] = placed[from * 4 + 1]!;
      a[r * 4 + 2] = placed[from * 4 + 2]!;
      a[r * 4 + 3] = placed[from * 4 + 3]!;
    }
  }
}
