/**
 * `modbus`: polls an energy meter over Modbus TCP (a panel or UPS meter, a
 * DIN-rail meter behind a TCP gateway) with a built-in or configured register
 * map (modbus-maps.ts), decoded by parse-modbus.ts; timer and deadline are
 * poll-loop.ts.
 *
 * The client is written here over node:net rather than taken from a library.
 * Reading registers is two small frames (parse-modbus.ts), and what was
 * measured on the candidates decided it: modbus-serial 8 pulls `serialport`
 * (native bindings) in as an optional dependency of every install, and
 * jsmodbus 5 failed the next request with "OutOfSync" after a late answer to
 * a timed-out one. Here:
 * - one connection per meter, kept between polls (gateways allow few);
 * - one request in flight; an answer is matched by its transaction id, so a
 *   late answer to an abandoned request is dropped and counted, never taken
 *   for the next one;
 * - at the poll's deadline the socket is destroyed, and the next poll
 *   connects afresh: no half-read stream survives a timeout;
 * - the receive buffer never holds more than one frame (260 bytes).
 */
import { ProblemLog } from './problem-log.js';
import { Socket } from 'node:net';
import type { MeterInfo } from '../../protocol/payloads.js';
import type { MeterReading } from '../meters/reading.js';
import { EntryFields } from './entry-fields.js';
import { type RegisterPoint, type BlockWords, type ReadBlock, MbapReader, decodeReadResponse, encodeReadRequest, planReads, readingFromRegisters } from './parse-modbus.js';
import { pointsFromEntry } from './modbus-maps.js';
import { PollLoop } from './poll-loop.js';
import type { MeterPoller, PollerDeps, PollerEntry } from './poller.js';

export const DEFAULT_INTERVAL_MS = 10_000;
export const DEFAULT_TIMEOUT_MS = 3000;
/** Eastron limits one request to 40 parameters (80 registers); the protocol allows 125. */
export const DEFAULT_MAX_REGISTERS = 80;
const HOST = /^[A-Za-z0-9.:[\]_-]+$/;

export interface ModbusTarget {
  host: string;
  port: number;
  unit: number;
  maxRegisters: number;
}

/** Every problem of a modbus entry: connection settings, then the register map. */
export function modbusSettings(entry: PollerEntry, where: string): { target: ModbusTarget; points?: RegisterPoint[]; problems: string[] } {
  const f = new EntryFields(entry, where);
  f.onlyKeys(['host', 'port', 'unit_id', 'map', 'registers', 'table', 'max_registers_per_read']);
  const target: ModbusTarget = {
    host: f.string('host', { required: true, pattern: HOST, patternText: 'a host name or address' }) ?? '',
    port: f.int('port', 1, 65535) ?? 502,
    unit: f.int('unit_id', 0, 255) ?? 1,
    maxRegisters: f.int('max_registers_per_read', 1, 125) ?? DEFAULT_MAX_REGISTERS,
  };
  const points = pointsFromEntry(entry, where);
  return points.ok ? { target, points: points.points, problems: f.problems } : { target, problems: [...f.problems, ...points.problems] };
}

/** One Modbus TCP connection with one request in flight. */
export class ModbusTcpClient {
  private socket: Socket | undefined;
  private reader = new MbapReader();
  private transaction = 0;
  private waiting: { tid: number; onFrame: (frame: Buffer) => void; onFail: (err: Error) => void } | undefined;
  readonly counters = { connects: 0, stale_frames: 0 };

  constructor(private readonly target: ModbusTarget) {}

  /** Reads one block; rejects on an exception answer, a broken stream, a closed socket, or the signal. */
  async read(block: ReadBlock, signal: AbortSignal): Promise<number[]> {
    const socket = await this.connect(signal);
    const tid = (this.transaction = (this.transaction + 1) & 0xffff);
    return new Promise<number[]>((resolve, reject) => {
      const settle = () => {
        signal.removeEventListener('abort', onAbort);
        this.waiting = undefined;
      };
      const onAbort = () => {
        settle();
        this.close(); // the only way to be sure a late answer is never read as the next one's
        reject(signal.reason);
      };
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiting = {
        tid,
        onFrame: (frame) => {
          settle();
          const r = decodeReadResponse(frame, this.target.unit, block);
          if (r.ok) resolve(r.words);
          else reject(new Error(r.detail));
        },
        onFail: (err) => {
          settle();
          reject(err);
        },
      };
      socket.write(encodeReadRequest(tid, this.target.unit, block));
    });
  }

  private connect(signal: AbortSignal): Promise<Socket> {
    if (this.socket && !this.socket.destroyed && !this.socket.connecting) return Promise.resolve(this.socket);
    this.close();
    const socket = new Socket();
    this.socket = socket;
    this.reader = new MbapReader();
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => this.fail(err));
    socket.on('close', () => {
      if (this.socket === socket) this.socket = undefined;
      this.fail(new Error('connection closed by the meter'));
    });
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        this.close();
        reject(signal.reason);
      };
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      socket.once('error', (err) => (signal.removeEventListener('abort', onAbort), reject(err)));
      socket.connect(this.target.port, this.target.host, () => {
        signal.removeEventListener('abort', onAbort);
        this.counters.connects += 1;
        resolve(socket);
      });
    });
  }

  private onData(chunk: Buffer): void {
    const got = this.reader.push(chunk);
    if ('error' in got) {
      this.fail(new Error(got.error));
      return this.close();
    }
    for (const frame of got.frames) {
      if (this.waiting && frame.readUInt16BE(0) === this.waiting.tid) this.waiting.onFrame(frame);
      else this.counters.stale_frames += 1; // the answer to a request already given up
    }
  }

  private fail(err: Error): void {
    this.waiting?.onFail(err);
  }

  close(): void {
    const s = this.socket;
    this.socket = undefined;
    s?.destroy();
  }
}

export class ModbusPoller implements MeterPoller {
  readonly kind = 'modbus' as const;
  readonly id: string;
  private readonly target: ModbusTarget;
  private readonly points: RegisterPoint[];
  private readonly blocks: ReadBlock[];
  private readonly client: ModbusTcpClient;
  private readonly loop: PollLoop<BlockWords[]>;
  private readonly counters = { readings: 0, bad_value: 0, missing: 0 };
  private emit: (reading: MeterReading, atMs: number) => void = () => undefined;
  private readonly problems: ProblemLog;

  /** From an entry the registry has checked (modbusSettings); constructors only assign. */
  constructor(
    entry: PollerEntry,
    deps: PollerDeps,
  ) {
    this.id = entry.id;
    this.problems = new ProblemLog(deps.log);
    const settings = modbusSettings(entry, `modbus ${entry.id}`);
    if (!settings.points) throw new Error(settings.problems.join('; '));
    this.target = settings.target;
    this.points = settings.points;
    this.blocks = planReads(this.points, this.target.maxRegisters);
    this.client = new ModbusTcpClient(this.target);
    const timeout = entry.timeout_ms ?? DEFAULT_TIMEOUT_MS;
    this.loop = new PollLoop<BlockWords[]>({
      intervalMs: () => entry.interval_ms ?? DEFAULT_INTERVAL_MS,
      timeoutMs: () => timeout,
      poll: (signal) => this.pollOnce(signal),
      onResult: (blocks, at) => this.onResult(blocks, at),
      onFailure: (kind, detail) => this.problems.problem(`collector pollers: modbus ${this.id} (${this.target.host}:${this.target.port} unit ${this.target.unit}): ${kind}: ${detail}`),
      now: deps.now,
    });
  }

  start(emit: (reading: MeterReading, atMs: number) => void): void {
    this.emit = emit;
    this.loop.start();
  }

  async stop(): Promise<void> {
    await this.loop.stop();
    this.client.close();
  }

  meters(): MeterInfo[] {
    const has = (fields: string[]) => this.points.some((p) => !p.phase && fields.includes(p.field));
    return [{
      id: this.id, kind: 'modbus', name: `Modbus meter at ${this.target.host}:${this.target.port} unit ${this.target.unit}`,
      supports: { energy_counter: has(['energy_import_wh', 'energy_export_wh']), instant_power: has(['power_w']) },
    }];
  }

  health(): Record<string, number> {
    return { ...this.loop.counters, ...this.counters, ...this.client.counters };
  }

  /** Every planned read, one after the other. */
  async pollOnce(signal: AbortSignal): Promise<BlockWords[]> {
    const out: BlockWords[] = [];
    for (const block of this.blocks) out.push({ ...block, words: await this.client.read(block, signal) });
    return out;
  }

  private onResult(blocks: BlockWords[], atMs: number): void {
    const r = readingFromRegisters(this.id, this.points, blocks);
    if (!r.ok) {
      this.counters[r.reason] += 1;
      return this.problems.problem(`collector pollers: modbus ${this.id}: no reading (${r.reason}): ${r.detail}`);
    }
    this.problems.recovered(`collector pollers: modbus ${this.id}: reading again`);
    this.counters.readings += 1;
    this.emit(r.reading, atMs);
  }

}
