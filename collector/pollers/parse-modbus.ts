/**
 * Modbus, pure: register words -> values by a register map, and the Modbus
 * TCP frames of "read input registers" (0x04) and "read holding registers"
 * (0x03). The socket is modbus.ts; the maps are modbus-maps.ts.
 *
 * Frames follow the MODBUS Application Protocol Specification V1.1b3 (§6.3,
 * §6.4: function, starting address, quantity 1..125; response byte count and
 * register values, big-endian; exception response function | 0x80 and an
 * exception code, §7) inside the MBAP header of the MODBUS Messaging on TCP/IP
 * Implementation Guide V1.0b (§3.1.3: transaction id, protocol id 0, length
 * of unit id + PDU, unit id).
 */
import { type MeterField, type MeterReading, type MeterValues, type PhaseReading, ValueSink, withPhases } from '../meters/reading.js';

export type RegisterType = 'int16' | 'uint16' | 'int32' | 'uint32' | 'float32';
/** Which register of a 32-bit value comes first: `big` is the high word first (Modbus' own byte order, extended). */
export type WordOrder = 'big' | 'little';
export type RegisterTable = 'input' | 'holding';

export interface RegisterPoint {
  /** The parameter's name in the device's documentation, for problems in logs. */
  name: string;
  table: RegisterTable;
  /** The protocol address (0-based): Eastron's "30001" is input register address 0. */
  address: number;
  type: RegisterType;
  wordOrder: WordOrder;
  /** Multiplies the raw value first: a meter that sends tenths of a volt as int16 has scale 0.1 and unit V. */
  scale: number;
  unit: string;
  field: MeterField;
  /** A per-phase value (L1, L2, L3) rather than the meter's own. */
  phase?: string;
}

/** The unit each field accepts, with its factor to the kilowatch unit (W, Wh, V, A, ratio). */
export const UNITS: Readonly<Record<MeterField, Readonly<Record<string, number>>>> = {
  power_w: { W: 1, kW: 1000 },
  energy_import_wh: { Wh: 1, kWh: 1000, MWh: 1_000_000 },
  energy_export_wh: { Wh: 1, kWh: 1000, MWh: 1_000_000 },
  voltage_v: { V: 1, kV: 1000 },
  current_a: { A: 1, mA: 0.001 },
  pf: { '': 1, '%': 0.01 },
};

export function registerCount(type: RegisterType): number {
  return type === 'int16' || type === 'uint16' ? 1 : 2;
}

/** The value at `offset` of `words` (each 0..65535); NaN for a float32 NaN, which the caller rejects as bad. */
export function decodeRegisters(words: ArrayLike<number>, offset: number, type: RegisterType, order: WordOrder): number {
  const w0 = words[offset]!;
  if (type === 'uint16') return w0;
  if (type === 'int16') return w0 >= 0x8000 ? w0 - 0x10000 : w0;
  const w1 = words[offset + 1]!;
  const [hi, lo] = order === 'big' ? [w0, w1] : [w1, w0];
  const buf = Buffer.alloc(4);
  buf.writeUInt16BE(hi, 0);
  buf.writeUInt16BE(lo, 2);
  if (type === 'uint32') return buf.readUInt32BE(0);
  if (type === 'int32') return buf.readInt32BE(0);
  return shortestFloat32(buf.readFloatBE(0));
}

/**
 * The shortest decimal that is the same float32: a meter that holds 230.1 V
 * sends the float32 nearest to it, which widens to 230.10000610351562 as a
 * double; the digits past the float's own precision are noise, not volts.
 */
export function shortestFloat32(v: number): number {
  if (!Number.isFinite(v) || v === 0) return v;
  for (let digits = 6; digits < 9; digits++) {
    const d = Number(v.toPrecision(digits));
    if (Math.fround(d) === v) return d;
  }
  return Number(v.toPrecision(9)); // 9 significant digits always identify a float32
}

export interface ReadBlock {
  table: RegisterTable;
  address: number;
  count: number;
}

/**
 * The reads that cover every point: points of one table close together share
 * a read (gaps of up to `maxGap` registers are read and thrown away), and no
 * read asks for more than `maxCount` registers (the protocol allows 125).
 */
export function planReads(points: readonly RegisterPoint[], maxCount: number, maxGap = 16): ReadBlock[] {
  const blocks: ReadBlock[] = [];
  for (const table of ['input', 'holding'] as const) {
    const sorted = points.filter((p) => p.table === table).sort((a, b) => a.address - b.address);
    let block: ReadBlock | undefined;
    for (const p of sorted) {
      const end = p.address + registerCount(p.type);
      if (block && p.address <= block.address + block.count + maxGap && end - block.address <= maxCount) {
        block.count = Math.max(block.count, end - block.address);
      } else {
        block = { table, address: p.address, count: end - p.address };
        blocks.push(block);
      }
    }
  }
  return blocks;
}

export interface BlockWords extends ReadBlock {
  words: ArrayLike<number>;
}

/**
 * One meter's reading from the words of its reads. A value that is not a
 * number (a float32 NaN) or is impossible (a negative energy counter, |pf| > 1)
 * makes the whole reading untrusted, as for the MQTT meters (reading.ts).
 */
export function readingFromRegisters(meter: string, points: readonly RegisterPoint[], blocks: readonly BlockWords[]): { ok: true; reading: MeterReading } | { ok: false; reason: 'bad_value' | 'missing'; detail: string } {
  const sink = new ValueSink();
  const own: MeterValues = {};
  const phases = new Map<string, PhaseReading>();
  for (const p of points) {
    const block = blocks.find((b) => b.table === p.table && p.address >= b.address && p.address + registerCount(p.type) <= b.address + b.count);
    if (!block || block.words.length < block.count) return { ok: false, reason: 'missing', detail: `${p.name} (${p.table} register ${p.address}) was not read` };
    const raw = decodeRegisters(block.words, p.address - block.address, p.type, p.wordOrder);
    let into: MeterValues = own;
    if (p.phase) {
      let ph = phases.get(p.phase);
      if (!ph) phases.set(p.phase, (ph = { phase: p.phase }));
      into = ph;
    }
    sink.put(into, p.field, Number.isNaN(raw) ? 'NaN' : raw, `${p.name} (${p.table} register ${p.address})`, p.scale * UNITS[p.field][p.unit]!);
  }
  const result = sink.result([withPhases({ meter, ...own }, [...phases.values()])]);
  return result.ok ? { ok: true, reading: result.readings[0]! } : { ok: false, reason: 'bad_value', detail: result.detail };
}

// ---- Modbus TCP frames ----

export const FUNCTION_CODE: Readonly<Record<RegisterTable, number>> = { holding: 0x03, input: 0x04 };
/** MBAP (7 bytes) + the largest PDU (253 bytes): a frame longer than this is a broken stream. */
export const MAX_ADU_BYTES = 260;
const EXCEPTIONS: Readonly<Record<number, string>> = {
  1: 'illegal function', 2: 'illegal data address', 3: 'illegal data value', 4: 'server device failure',
  5: 'acknowledge', 6: 'server device busy', 8: 'memory parity error', 10: 'gateway path unavailable',
  11: 'gateway target device failed to respond',
};

export function encodeReadRequest(transaction: number, unit: number, block: ReadBlock): Buffer {
  const frame = Buffer.alloc(12);
  frame.writeUInt16BE(transaction & 0xffff, 0);
  frame.writeUInt16BE(0, 2); // protocol id: Modbus
  frame.writeUInt16BE(6, 4); // unit id + function + address + quantity
  frame.writeUInt8(unit, 6);
  frame.writeUInt8(FUNCTION_CODE[block.table], 7);
  frame.writeUInt16BE(block.address, 8);
  frame.writeUInt16BE(block.count, 10);
  return frame;
}

/** Splits a TCP byte stream into whole MBAP frames; never holds more than one frame's worth of bytes. */
export class MbapReader {
  private buf: Buffer = Buffer.alloc(0);

  /** The whole frames now available, or an error when the stream cannot be a Modbus TCP stream. */
  push(chunk: Buffer): { frames: Buffer[] } | { error: string } {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const frames: Buffer[] = [];
    while (this.buf.length >= 7) {
      const protocol = this.buf.readUInt16BE(2);
      const length = this.buf.readUInt16BE(4);
      if (protocol !== 0 || length < 2 || length + 6 > MAX_ADU_BYTES) return { error: `not a Modbus TCP frame (protocol ${protocol}, length ${length})` };
      if (this.buf.length < length + 6) break;
      frames.push(this.buf.subarray(0, length + 6));
      this.buf = this.buf.subarray(length + 6);
    }
    return { frames };
  }
}

export type ReadResponse = { ok: true; words: number[] } | { ok: false; detail: string };

/** The register values of a response to `request`, or why it is not one. */
export function decodeReadResponse(frame: Buffer, unit: number, block: ReadBlock): ReadResponse {
  const fc = FUNCTION_CODE[block.table];
  if (frame.readUInt8(6) !== unit) return { ok: false, detail: `answer from unit ${frame.readUInt8(6)}, asked unit ${unit}` };
  const got = frame.readUInt8(7);
  if (got === (fc | 0x80)) {
    const code = frame.length > 8 ? frame.readUInt8(8) : -1;
    return { ok: false, detail: `exception ${code} (${EXCEPTIONS[code] ?? 'unknown'}) reading ${block.table} registers ${block.address}..${block.address + block.count - 1}` };
  }
  if (got !== fc) return { ok: false, detail: `answer with function ${got}, asked ${fc}` };
  const bytes = frame.length > 8 ? frame.readUInt8(8) : -1;
  if (bytes !== block.count * 2 || frame.length !== 9 + bytes) return { ok: false, detail: `answer of ${bytes} bytes for ${block.count} registers` };
  const words: number[] = [];
  for (let i = 0; i < block.count; i++) words.push(frame.readUInt16BE(9 + i * 2));
  return { ok: true, words };
}
