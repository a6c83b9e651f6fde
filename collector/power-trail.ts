/**
 * Edge energy for sources without an energy counter (nvidia-smi, most
 * exporters): the trapezoid rule over consecutive power samples of each GPU,
 * computed where the samples are (ARCHITECTURE.md §4). An interval longer
 * than `maxGapMs` is never bridged: it is counted as a gap, not guessed. A
 * segment that crosses a window boundary is split at the boundary, so each
 * window gets exactly the energy of its own time.
 */

export interface EnergyPart {
  /** Start of the window the part belongs to. */
  windowTs: number;
  energyMj: number;
}

export class PowerTrail {
  private readonly last = new Map<string, { t: number; p: number }>();
  gaps = 0;

  constructor(
    private readonly windowMs: number,
    private readonly maxGapMs: number,
  ) {}

  /** Adds a sample; returns the energy since the previous one (W x ms = mJ), split by window. */
  add(gpuId: string, tMs: number, powerW: number): EnergyPart[] {
    const prev = this.last.get(gpuId);
    this.last.set(gpuId, { t: tMs, p: powerW });
    if (!prev || tMs <= prev.t) return [];
    if (tMs - prev.t > this.maxGapMs) {
      this.gaps += 1;
      return [];
    }
    const parts: EnergyPart[] = [];
    const slope = (powerW - prev.p) / (tMs - prev.t);
    const at = (t: number) => prev.p + slope * (t - prev.t);
    let from = prev.t;
    while (from < tMs) {
      const windowTs = Math.floor(from / this.windowMs) * this.windowMs;
      const to = Math.min(tMs, windowTs + this.windowMs);
      parts.push({ windowTs, energyMj: ((at(from) + at(to)) / 2) * (to - from) });
      from = to;
    }
    return parts;
  }
}
