/**
 * The record a per-GPU NVML worker shares with the main thread: one
 * SharedArrayBuffer per worker, written by the worker after each poll and read
 * by the main thread when the sampler asks (nvml.ts read()). Pure, no I/O.
 *
 * Why not a postMessage per reading: at 8 GPUs x 10 Hz that is 80 structured
 * clones and main-loop wake-ups a second, and a worker that must turn its
 * event loop to take part. Here a poll is a few stores, the worker can sleep
 * in Atomics.wait (nvml-worker.ts), and the main thread decodes only the
 * newest record of each GPU, on the sampler's own tick. Measured with 8 stub
 * GPUs at 10 Hz, the source alone once settled: 1.6-1.9 % of a core with
 * messages and worker timers, 1.0 % with this record and the sleeping worker.
 *
 * Consistency is a sequence lock: the worker makes SEQ odd, writes, makes it
 * even again; a reader that sees SEQ odd, or changed across its reads, keeps
 * what it had. NVML is called before SEQ goes odd, so a call that hangs leaves
 * the previous record intact (and goes stale, nvml.ts). Each worker gets a
 * fresh buffer: an abandoned thread whose hung call returns late can only
 * write into its own dead record, never into its successor's.
 *
 * CTRL is the stop flag (set by the main thread, Atomics.notify'd): the worker
 * sleeps in Atomics.wait on it between polls (Atomics.waitAsync when it waits
 * in its event loop), so a stop reaches it at once without a message port.
 */
import { MAX_PROCESSES } from './nvml-abi.js';
import type { Capability, RawReading, SlowRaw } from './nvml-worker.js';

// Int32 slots.
const CTRL = 0;
const SEQ = 1;
/** Polls done, errors and "unsupported" answers since the worker started (cumulative, so none is missed between reads). */
const POLLS = 2;
const ERRORS = 3;
const UNSUPPORTED = 4;
/** Bumped each time the slow fields were refreshed. */
const SLOW_GEN = 5;
/** Bit per capability: its value in this record is valid (the read succeeded). */
const VALID = 6;
const HEADER_BYTES = 32;

// Float64 slots, after the header.
const F = HEADER_BYTES / 8;
export const SLOT = {
  ts: F, power_usage_mw: F + 1, power_instant_mw: F + 2, energy_mj: F + 3,
  util_pct: F + 4, mem_used_bytes: F + 5, temp_c: F + 6, sm_clock_mhz: F + 7, limit_mw: F + 8,
  throttle_lo: F + 9, throttle_hi: F + 10, mig_current: F + 11, process_count: F + 12,
} as const;
const PROCS = F + 13;
const BYTES = 8 * (PROCS + 2 * MAX_PROCESSES);

export const CAPABILITIES: readonly Capability[] = ['power_usage', 'power_instant', 'energy', 'utilization', 'memory', 'temperature', 'sm_clock', 'enforced_limit', 'throttle', 'processes', 'mig'];
const BIT = Object.fromEntries(CAPABILITIES.map((c, i) => [c, 1 << i])) as Record<Capability, number>;
const SLOW_CAPS = BIT.utilization | BIT.memory | BIT.temperature | BIT.sm_clock | BIT.enforced_limit | BIT.throttle | BIT.processes | BIT.mig;

export class NvmlShm {
  readonly i32: Int32Array;
  readonly f64: Float64Array;
  /** Worker side: the poll being staged (values, validity bits, process list) until publish(). */
  private readonly stage = new Float64Array(PROCS);
  private valid = 0;
  private procs: Float64Array | undefined;

  constructor(readonly buffer: SharedArrayBuffer = new SharedArrayBuffer(BYTES)) {
    this.i32 = new Int32Array(buffer, 0, HEADER_BYTES / 4);
    this.f64 = new Float64Array(buffer);
  }

  // --- control ---

  requestStop(): void {
    Atomics.store(this.i32, CTRL, 1);
    Atomics.notify(this.i32, CTRL);
  }

  stopRequested(): boolean {
    return Atomics.load(this.i32, CTRL) !== 0;
  }

  /** Worker side: sleeps up to ms; false when a stop was requested. */
  sleep(ms: number): boolean {
    if (ms > 0) Atomics.wait(this.i32, CTRL, 0, ms);
    return !this.stopRequested();
  }

  /** Worker side, in the event loop: resolves within ms, true when a stop was requested. */
  async stopWithin(ms: number): Promise<boolean> {
    // Atomics.waitAsync is in Node >= 16 but in TypeScript's lib only from es2024.
    const wait = (Atomics as unknown as { waitAsync(a: Int32Array, i: number, v: number, ms: number): { async: boolean; value: unknown } }).waitAsync;
    const r = wait(this.i32, CTRL, 0, ms);
    if (r.async) await r.value;
    return this.stopRequested();
  }

  /** Changes with every published record: the main thread's sign of life. */
  seq(): number {
    return Atomics.load(this.i32, SEQ);
  }

  // --- worker side: begin, set..., countError..., publish ---

  /** Starts staging a poll taken at ts; nothing shared changes until publish(). */
  begin(ts: number, slow: boolean): void {
    this.stage[SLOT.ts] = ts;
    // Slow values not refreshed by this poll stay valid as they were.
    this.valid = slow ? 0 : Atomics.load(this.i32, VALID) & SLOW_CAPS;
    this.procs = undefined;
  }

  set(cap: Capability, slot: number, value: number): void {
    this.stage[slot] = value;
    this.valid |= BIT[cap];
  }

  /** Stages count (pid, used bytes) pairs of the FFI's process list, copied at publish. */
  setProcesses(procs: Float64Array, count: number): void {
    this.procs = procs;
    this.set('processes', SLOT.process_count, Math.min(count, MAX_PROCESSES));
  }

  countError(unsupported: boolean): void {
    Atomics.add(this.i32, unsupported ? UNSUPPORTED : ERRORS, 1);
  }

  /** Writes the staged poll under the sequence lock: a few dozen stores, no NVML call inside. */
  publish(slow: boolean): void {
    const { i32, f64, stage } = this;
    Atomics.add(i32, SEQ, 1); // odd: being written
    const end = slow ? PROCS : SLOT.util_pct;
    for (let i = SLOT.ts; i < end; i++) f64[i] = stage[i]!;
    if (slow && this.procs) for (let i = 0; i < 2 * stage[SLOT.process_count]!; i++) f64[PROCS + i] = this.procs[i]!;
    Atomics.store(i32, VALID, this.valid);
    Atomics.add(i32, POLLS, 1);
    if (slow) Atomics.add(i32, SLOW_GEN, 1);
    Atomics.add(i32, SEQ, 1); // even: complete
  }

  // --- main side ---

  /**
   * The newest complete record, when it differs from `seen` (a previous
   * result; undefined for none). Slow fields are decoded only when they were
   * refreshed since `seen`. Undefined when nothing new or the record is being
   * written (the caller keeps what it had and asks again on its next tick).
   */
  read(seen: ShmView | undefined): ShmView | undefined {
    const i32 = this.i32;
    const f64 = this.f64;
    const seq = Atomics.load(i32, SEQ);
    if (seq & 1 || seq === 0 || seq === seen?.seq) return undefined;
    const valid = Atomics.load(i32, VALID);
    const has = (cap: Capability) => (valid & BIT[cap]) !== 0;
    const reading: RawReading = { ts: f64[SLOT.ts]! };
    if (has('power_usage')) reading.power_usage_mw = f64[SLOT.power_usage_mw]!;
    if (has('power_instant')) reading.power_instant_mw = f64[SLOT.power_instant_mw]!;
    if (has('energy')) reading.energy_mj = f64[SLOT.energy_mj]!;
    const slowGen = Atomics.load(i32, SLOW_GEN);
    if (slowGen !== 0 && slowGen !== seen?.slowGen) {
      const slow: SlowRaw = {};
      if (has('utilization')) slow.util_pct = f64[SLOT.util_pct]!;
      if (has('memory')) slow.mem_used_bytes = f64[SLOT.mem_used_bytes]!;
      if (has('temperature')) slow.temp_c = f64[SLOT.temp_c]!;
      if (has('sm_clock')) slow.sm_clock_mhz = f64[SLOT.sm_clock_mhz]!;
      if (has('enforced_limit')) slow.limit_mw = f64[SLOT.limit_mw]!;
      if (has('throttle')) slow.throttle_bits = (BigInt(f64[SLOT.throttle_hi]!) << 32n) | BigInt(f64[SLOT.throttle_lo]!);
      if (has('mig')) slow.mig_current = f64[SLOT.mig_current]!;
      if (has('processes')) {
        slow.processes = [];
        for (let i = 0; i < f64[SLOT.process_count]!; i++) {
          const used = f64[PROCS + 2 * i + 1]!;
          slow.processes.push(Number.isNaN(used) ? { pid: f64[PROCS + 2 * i]! } : { pid: f64[PROCS + 2 * i]!, usedBytes: used });
        }
      }
      reading.slow = slow;
    }
    const view: ShmView = { seq, slowGen, polls: Atomics.load(i32, POLLS), errors: Atomics.load(i32, ERRORS), unsupported: Atomics.load(i32, UNSUPPORTED), reading };
    // Torn: the worker published again while this was read. Keep the previous one; the next read gets the new one.
    return Atomics.load(i32, SEQ) === seq ? view : undefined;
  }
}

export interface ShmView {
  seq: number;
  slowGen: number;
  /** Cumulative counts since the worker started; the caller adds the differences to its health counters. */
  polls: number;
  errors: number;
  unsupported: number;
  reading: RawReading;
}
