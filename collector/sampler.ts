/**
 * Drives sampling and windowing for every host of one collector process from
 * a single timer aligned to the sample grid (multiples of sample_ms since the
 * epoch), so samples of all hosts share instants and windows line up across
 * hosts. A closed window is published at its host's seeded offset.
 */
import { PowerTrail } from './power-trail.js';
import { HostWindow, type GpuSample, type WindowBody, publishOffsetMs, windowStart } from './window.js';

export interface SampledHost {
  name: string;
  /** Seeded key that places this host's publish offset within the window. */
  key: number;
  read(tMs: number): GpuSample[];
  publishWindow(body: WindowBody): void;
}

export interface SamplerOptions {
  windowMs: number;
  sampleMs: number;
  now: () => number;
  /** The edge integral never bridges a longer interval between two samples (default 5 sample intervals). */
  maxGapMs?: number;
}

export class Sampler {
  private timer: NodeJS.Timeout | undefined;
  private readonly pending = new Map<NodeJS.Timeout, () => void>();
  private readonly open = new Map<SampledHost, HostWindow>();
  private readonly trails = new Map<SampledHost, PowerTrail>();
  /** Per host and GPU, the source time of the last reading counted, to skip repeats. */
  private readonly seen = new Map<SampledHost, Map<string, number>>();
  private lastTick = -1;
  private running = false;

  constructor(
    private readonly hosts: readonly SampledHost[],
    private readonly opts: SamplerOptions,
  ) {}

  start(): void {
    this.running = true;
    this.schedule();
  }

  /**
   * Stops sampling. Closed windows waiting for their publish offset are
   * published now, and so is each open window, with the samples it has: a
   * shutdown loses no sample that was taken.
   */
  stop(): void {
    this.running = false;
    clearTimeout(this.timer);
    for (const [timer, publish] of this.pending) {
      clearTimeout(timer);
      publish();
    }
    this.pending.clear();
    for (const [host, window] of this.open) if (window.sampleCount > 0) host.publishWindow(window.close());
    this.open.clear();
  }

  private schedule(): void {
    if (!this.running) return;
    const { sampleMs, now } = this.opts;
    const next = (Math.floor(now() / sampleMs) + 1) * sampleMs;
    this.timer = setTimeout(() => this.tick(next), next - now());
  }

  /** Samples every host at instant t, closing windows that t has left. */
  tick(t: number): void {
    if (t > this.lastTick) {
      this.lastTick = t;
      const ts = windowStart(t, this.opts.windowMs);
      for (const host of this.hosts) this.sampleHost(host, t, ts);
    }
    this.schedule();
  }

  private sampleHost(host: SampledHost, t: number, ts: number): void {
    let current = this.open.get(host);
    let closing: HostWindow | undefined;
    if (current && current.ts !== ts) {
      closing = current;
      current = undefined;
    }
    if (!current) this.open.set(host, (current = new HostWindow(ts, this.opts.windowMs)));
    const samples = host.read(t);
    let seen = this.seen.get(host);
    if (!seen) this.seen.set(host, (seen = new Map()));
    const fresh = new Set<GpuSample>();
    for (const s of samples) {
      if (s.ts_ms !== undefined && seen.get(s.id) === s.ts_ms) continue;
      if (s.ts_ms !== undefined) seen.set(s.id, s.ts_ms);
      fresh.add(s);
    }
    current.add(samples, (s) => fresh.has(s));
    // The sample on the boundary also ends the closing window: its counter reading is the energy at that window's end.
    // (Only on the grid instant: after a stall the closing window keeps its own last reading.)
    if (closing && t - (closing.ts + closing.windowMs) < this.opts.sampleMs) {
      for (const s of fresh) if (s.energy_mj !== undefined) closing.endCounter(s.id, s.energy_mj);
    }
    // Integrate power for GPUs without a counter. A part that falls in the window
    // being closed still belongs to it, so it is added before that window goes out.
    let trail = this.trails.get(host);
    if (!trail) this.trails.set(host, (trail = new PowerTrail(this.opts.windowMs, this.opts.maxGapMs ?? 5 * this.opts.sampleMs)));
    for (const s of fresh) {
      if (s.energy_mj !== undefined || s.power_w === undefined) continue;
      for (const part of trail.add(s.id, t, s.power_w)) {
        if (part.windowTs === current.ts) current.addEnergy(s.id, part.energyMj);
        else if (closing?.ts === part.windowTs) closing.addEnergy(s.id, part.energyMj);
      }
    }
    if (closing) this.publishLater(host, closing);
  }

  private publishLater(host: SampledHost, window: HostWindow): void {
    const body = window.close();
    const due = window.ts + window.windowMs + publishOffsetMs(host.key, window.windowMs);
    const delay = Math.max(0, due - this.opts.now());
    const publish = () => host.publishWindow(body);
    const timer = setTimeout(() => {
      this.pending.delete(timer);
      publish();
    }, delay);
    this.pending.set(timer, publish);
  }
}
