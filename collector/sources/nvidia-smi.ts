/**
 * The nvidia-smi source, for hosts where NVML cannot be loaded from Node but
 * the tool runs. At start it probes the field list (`--help-query-gpu`: an
 * unknown field makes nvidia-smi fail), takes one reading for the inventory,
 * then keeps ONE long-running
 *   nvidia-smi --query-gpu=<fields> --format=csv,noheader,nounits -lms <ms>
 * whose lines are parsed as they arrive (parse-nvidia-smi.ts). If it exits it
 * is restarted with a backoff (nvidia_smi_restarts). `--query-compute-apps`
 * is polled at 1 Hz or slower.
 *
 * nvidia-smi has no energy counter (no such field up to driver 595), so
 * samples carry power only and the edge integrates window energy from them;
 * a field named total_energy_consumption would be used as the counter.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { GpuInfo, GpuProcess } from '../../protocol/payloads.js';
import type { GpuSample } from '../window.js';
import { gpuFromRow, parseComputeApps, parseHelpQueryGpu, parseQueryCsv, selectQueryFields, type SmiSample, splitCsvLine } from './parse-nvidia-smi.js';
import { checkEnergy, checkPower, checkRange, HealthCounters } from './sample-checks.js';
import type { GpuSource } from './source.js';

export interface NvidiaSmiOptions {
  /** Path of the nvidia-smi binary; tests point it at a fake script. */
  binary?: string;
  /** -lms period; never below 50 ms. Default 100. */
  intervalMs?: number;
  /** --query-compute-apps period; never below 1000 ms. */
  appsIntervalMs?: number;
  /** read(t) returns rows that arrived at most this long ago. Default max(1000, 3 x intervalMs). */
  stalenessMs?: number;
  backoffMs?: number;
  maxBackoffMs?: number;
  /** Limit for the one-shot commands (help, first reading, compute apps). */
  commandTimeoutMs?: number;
  now?: () => number;
}

export interface NvidiaSmiSample extends SmiSample {
  counter_reset?: true;
  processes?: GpuProcess[];
}

/** A loop that ran this long is healthy again: its next failure starts the backoff over. */
const HEALTHY_RUN_MS = 30_000;
/** Bound on one stdout line; nvidia-smi's lines are a few hundred bytes. */
const MAX_LINE = 64 * 1024;

export class NvidiaSmiSource implements GpuSource {
  readonly kind = 'nvidia-smi' as const;
  private readonly o: Required<Omit<NvidiaSmiOptions, 'now'>> & { now: () => number };
  private readonly counters = new HealthCounters('nvidia_smi');
  private fields: string[] = [];
  private gpus: GpuInfo[] = [];
  private readonly latest = new Map<string, { at: number; sample: NvidiaSmiSample }>();
  private readonly energy = new Map<string, number>();
  private apps: { at: number; byGpu: Map<string, GpuProcess[]> } | undefined;
  private child: ChildProcess | undefined;
  private childStartedAt = 0;
  private failures = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  private appsTimer: NodeJS.Timeout | undefined;
  private appsRunning = false;
  private stopping = false;

  constructor(opts: NvidiaSmiOptions = {}) {
    const intervalMs = Math.max(50, opts.intervalMs ?? 100);
    this.o = {
      binary: opts.binary ?? 'nvidia-smi',
      intervalMs,
      appsIntervalMs: Math.max(1000, opts.appsIntervalMs ?? 1000),
      stalenessMs: opts.stalenessMs ?? Math.max(1000, 3 * intervalMs),
      backoffMs: opts.backoffMs ?? 1000,
      maxBackoffMs: opts.maxBackoffMs ?? 60_000,
      commandTimeoutMs: opts.commandTimeoutMs ?? 10_000,
      now: opts.now ?? Date.now,
    };
  }

  async start(): Promise<void> {
    this.stopping = false;
    const help = await this.run(['--help-query-gpu']);
    this.fields = selectQueryFields(parseHelpQueryGpu(help));
    const first = parseQueryCsv(await this.run([`--query-gpu=${this.fields.join(',')}`, '--format=csv,noheader,nounits']), this.fields);
    this.gpus = first.rows.flatMap((r) => gpuFromRow(r)?.info ?? []);
    if (this.gpus.length === 0) throw new Error(`nvidia-smi: ${this.o.binary} lists no GPUs`);
    for (const row of first.rows) this.accept(row);
    this.spawnLoop();
    this.pollApps();
  }

  inventory(): GpuInfo[] {
    return this.gpus;
  }

  read(tMs: number): GpuSample[] {
    const out: NvidiaSmiSample[] = [];
    const appsFresh = this.apps && tMs - this.apps.at <= 2 * this.o.appsIntervalMs + this.o.commandTimeoutMs;
    for (const [id, { at, sample }] of this.latest) {
      if (tMs - at > this.o.stalenessMs) continue;
      out.push(appsFresh ? { ...sample, processes: this.apps!.byGpu.get(id) ?? [] } : sample);
    }
    return out;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.restartTimer);
    clearTimeout(this.appsTimer);
    const child = this.child;
    this.child = undefined;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((res) => child.once('exit', () => res()));
      child.kill('SIGTERM');
      const kill = setTimeout(() => child.kill('SIGKILL'), 1000);
      await Promise.race([exited, new Promise((r) => setTimeout(r, 2000).unref())]);
      clearTimeout(kill);
    }
    this.latest.clear();
  }

  health(): Record<string, number> {
    return { ...this.counters.snapshot(), nvidia_smi_gpus: this.gpus.length, nvidia_smi_running: this.child ? 1 : 0 };
  }

  /** One-shot command; rejects with the tool's own message. */
  private run(args: string[]): Promise<string> {
    return new Promise((resolve, reject) => {
      execFile(this.o.binary, args, { timeout: this.o.commandTimeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
        if (err) reject(new Error(`nvidia-smi: \`${this.o.binary} ${args[0]}\` failed: ${(stderr || stdout || err.message).trim().slice(0, 500)}`));
        else resolve(stdout);
      });
    });
  }

  private spawnLoop(): void {
    if (this.stopping) return;
    this.restartTimer = undefined;
    const args = [`--query-gpu=${this.fields.join(',')}`, '--format=csv,noheader,nounits', '-lms', String(this.o.intervalMs)];
    const child = spawn(this.o.binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.childStartedAt = this.o.now();
    const lines = createInterface({ input: child.stdout!, crlfDelay: Infinity });
    lines.on('line', (line) => {
      if (child === this.child) this.onLine(line);
    });
    child.stderr!.resume(); // drained, never buffered without bound
    let ended = false;
    const onEnd = (why: string) => {
      if (ended) return;
      ended = true;
      if (child !== this.child || this.stopping) return;
      this.child = undefined;
      this.counters.add(why);
      this.counters.add('restarts');
      if (this.o.now() - this.childStartedAt > HEALTHY_RUN_MS) this.failures = 0;
      this.failures += 1;
      const delay = Math.min(this.o.maxBackoffMs, this.o.backoffMs * 2 ** (this.failures - 1));
      this.restartTimer = setTimeout(() => this.spawnLoop(), delay);
    };
    child.on('error', () => onEnd('spawn_errors'));
    child.on('exit', () => onEnd('exits'));
  }

  private onLine(line: string): void {
    if (line.trim() === '') return;
    const cells = line.length > MAX_LINE ? [] : splitCsvLine(line);
    if (cells.length !== this.fields.length) {
      this.counters.add('malformed_lines');
      return;
    }
    const row: Record<string, string> = {};
    this.fields.forEach((f, i) => (row[f] = cells[i]!));
    if (!this.accept(row)) this.counters.add('malformed_lines');
  }

  /** Checks one parsed row and keeps it as the GPU's latest; false when it names no GPU. */
  private accept(row: Record<string, string>): boolean {
    const gpu = gpuFromRow(row);
    if (!gpu) return false;
    const s: NvidiaSmiSample = gpu.sample;
    const limit = s.power_limit_w ?? this.gpus.find((g) => g.id === s.id)?.power_limit_w;
    for (const [k, c] of [
      ['power_w', checkPower(s.power_w, limit)],
      ['power_avg_w', checkPower(s.power_avg_w, limit)],
      ['util_pct', checkRange(s.util_pct, 0, 100)],
      ['temp_c', checkRange(s.temp_c, -40, 200)],
    ] as const) {
      if (c.drop) {
        this.counters.drop(c.drop);
        delete s[k];
      }
    }
    const e = checkEnergy(s.energy_mj, this.energy.get(s.id));
    if (e.drop) {
      this.counters.drop(e.drop);
      delete s.energy_mj;
    }
    if (e.reset) {
      this.counters.add('counter_reset');
      s.counter_reset = true;
    }
    if (e.value !== undefined) this.energy.set(s.id, e.value);
    this.counters.add('readings');
    this.latest.set(s.id, { at: this.o.now(), sample: s });
    return true;
  }

  private pollApps(): void {
    if (this.stopping) return;
    this.appsTimer = setTimeout(() => this.pollApps(), this.o.appsIntervalMs);
    this.appsTimer.unref();
    if (this.appsRunning) return; // a slow nvidia-smi never piles up calls
    this.appsRunning = true;
    const fields = ['gpu_uuid', 'pid', 'used_gpu_memory'];
    this.run([`--query-compute-apps=${fields.join(',')}`, '--format=csv,noheader,nounits'])
      .then((text) => {
        const { byGpu, malformed } = parseComputeApps(text, fields);
        if (malformed > 0) this.counters.add('malformed_app_lines', malformed);
        this.apps = { at: this.o.now(), byGpu };
      })
      .catch(() => this.counters.add('apps_errors'))
      .finally(() => (this.appsRunning = false));
  }
}
