/**
 * The energy of each stored GPU window, computed once when it is written so
 * that every engine stores the same figure and a bucket's energy is a plain
 * sum (ARCHITECTURE.md §4, "Per GPU"). Pure: state in, numbers out.
 *
 * - `counter`: the difference of the NVML energy counter from the GPU's
 *   previous window. It is exact even across a gap, so it covers the gap too.
 * - `integral`: the window energy the collector integrated at the edge, for
 *   GPUs without a counter (nvidia-smi, exporters without the field).
 * - `mean`: mean power times the window length, when neither is there (the
 *   first window of a counter, a counter reset, a restarted server).
 * - `covered`: a window older than the GPU's latest one, arriving late from
 *   a spool, inside a chain of counter differences: a later difference
 *   already counted its energy, so it adds 0 J instead of counting it twice
 *   (the ledger reopens the gap with it: ledger-gaps.ts). A late window
 *   outside every chain was never counted, and gets `integral` or `mean`.
 * A counter that went backwards (driver reload) or jumped further than any
 * GPU could draw is a reset, never negative or impossible energy.
 *
 * A store computes a batch, then commits (the batch is durable) or rolls
 * back (it failed and will be retried), so a retried window is not "late".
 */

export type EnergySource = 'counter' | 'integral' | 'mean' | 'covered';

export interface EnergyWindow {
  /** The GPU's identity: energyKey(site, host, gpu). */
  key: string;
  ts: number;
  window_ms: number;
  energy_mj?: number | undefined;
  window_energy_mj?: number | undefined;
  power_mean_w?: number | undefined;
}

/** Keys already built, by site, host and GPU (see energyKey); cleared whole when it reaches MAX_KEYS. */
const keys = new Map<string, Map<string, Map<string, string>>>();
let keyCount = 0;
const MAX_KEYS = 1_000_000;
let lastSite = '';
let lastHost = '';
let lastGpus: Map<string, string> | undefined;

/**
 * Names cannot contain NUL (protocol: UTF-8 text), so the joined key is
 * unambiguous. The hot path asks for every GPU of every window, and several
 * maps look it up: the same string object each time is built once and
 * hashed once, where a new one would be built, flattened and hashed anew.
 */
export function energyKey(site: string, host: string, gpu: string): string {
  if (keyCount >= MAX_KEYS) {
    keys.clear();
    keyCount = 0;
    lastGpus = undefined;
  }
  // The GPUs of one window come in a row: the previous host's map answers all but the first.
  let gpus = site === lastSite && host === lastHost ? lastGpus : undefined;
  if (!gpus) {
    let hosts = keys.get(site);
    if (!hosts) keys.set(site, (hosts = new Map()));
    gpus = hosts.get(host);
    if (!gpus) hosts.set(host, (gpus = new Map()));
    lastSite = site;
    lastHost = host;
    lastGpus = gpus;
  }
  let key = gpus.get(gpu);
  if (key === undefined) {
    key = `${site}\u0000${host}\u0000${gpu}`;
    gpus.set(gpu, key);
    keyCount += 1;
  }
  return key;
}

export interface WindowEnergyResult {
  energy_j?: number;
  from?: EnergySource;
  /** Where the energy begins when a counter difference also covers a gap before the window (its previous reading). */
  since?: number;
  /** The counter at `since`, mJ: a late window inside the gap splits it there (ledger-gaps.ts). */
  sinceMj?: number;
}

interface Last {
  endTs: number;
  counterMj?: number;
  counterEndTs?: number;
  /**
   * Where the current chain of counter differences begins: everything from
   * here to endTs is counted, gaps included, so a late window in it adds 0 J.
   * A chain restarts at a window counted another way (the first one, a
   * reset); a late window before it was never counted and is integrated.
   */
  chainFrom?: number;
  /** Earlier chains [from, to], newest last, a few kept: a late window inside one is counted there. */
  earlier?: readonly (readonly [number, number])[];
}

/** Earlier chains kept per GPU: each one is a reset or a restart of the chain, rare. */
const MAX_EARLIER_CHAINS = 4;

/** Whether the counter chains already counted [ts, end). */
function counted(last: Last, ts: number, end: number): boolean {
  if (last.chainFrom !== undefined && ts >= last.chainFrom) return true;
  return last.earlier?.some(([a, b]) => ts >= a && end <= b) ?? false;
}

/** No single GPU board draws 5 kW (protocol/validate.ts); a larger counter step is a reset. */
const MAX_GPU_W = 5000;

/** One GPU's state: the committed reading, and the one of the batch being written. */
interface Slot {
  last: Last | undefined;
  pending: Last | undefined;
  /** The commit that last wrote it: the least recently written are forgotten first. */
  written: number;
}

export class WindowEnergy {
  /**
   * One map lookup per GPU window (the hot path: every GPU of every window):
   * the batch's state sits in the slot beside the committed one, and commit
   * walks the slots the batch touched instead of re-inserting them.
   */
  private readonly slots = new Map<string, Slot>();
  private readonly touched: Slot[] = [];
  private commits = 0;
  /** GPUs forgotten to keep the map bounded; their next window falls back to `integral` or `mean`. */
  evicted = 0;

  constructor(private readonly maxKeys = 1_000_000) {}

  private slot(key: string): Slot {
    let slot = this.slots.get(key);
    if (!slot) this.slots.set(key, (slot = { last: undefined, pending: undefined, written: this.commits }));
    return slot;
  }

  /** The state a restarted server reloads: the latest counter reading of a GPU. */
  seed(key: string, endTs: number, counterMj: number | undefined): void {
    // What came before the restart was counted then: a late window from before it adds 0 J, as it always did.
    this.slot(key).last = counterMj === undefined ? { endTs } : { endTs, counterMj, counterEndTs: endTs, chainFrom: -Infinity };
    this.keepBounded();
  }

  commit(): void {
    this.commits += 1;
    for (const slot of this.touched) {
      slot.last = slot.pending;
      slot.pending = undefined;
      slot.written = this.commits;
    }
    this.touched.length = 0;
    this.keepBounded();
  }

  rollback(): void {
    for (const slot of this.touched) slot.pending = undefined;
    this.touched.length = 0;
  }

  of(w: EnergyWindow): WindowEnergyResult {
    const end = w.ts + w.window_ms;
    const slot = this.slot(w.key);
    const last = slot.pending ?? slot.last;
    if (last && end <= last.endTs) {
      // Late: only a counter chain that runs past it has already counted it.
      if (w.energy_mj !== undefined && counted(last, w.ts, end)) return { energy_j: 0, from: 'covered' };
      return fallback(w);
    }
    let out: WindowEnergyResult | undefined;
    if (w.energy_mj !== undefined && last?.counterMj !== undefined && last.counterEndTs !== undefined) {
      const deltaJ = (w.energy_mj - last.counterMj) / 1000;
      const possibleJ = (MAX_GPU_W * (end - last.counterEndTs)) / 1000;
      if (deltaJ >= 0 && deltaJ <= possibleJ) out = last.counterEndTs < w.ts ? { energy_j: deltaJ, from: 'counter', since: last.counterEndTs, sinceMj: last.counterMj } : { energy_j: deltaJ, from: 'counter' };
    }
    let next: Last;
    if (w.energy_mj === undefined) next = { ...last, endTs: end };
    else if (out) {
      // The hot path: one object of a fixed shape, no spread.
      next = { endTs: end, counterMj: w.energy_mj, counterEndTs: end };
      if (last?.chainFrom !== undefined) next.chainFrom = last.chainFrom;
      if (last?.earlier) next.earlier = last.earlier;
    } else {
      // Counted another way: a new chain starts at this window, and the one before is kept for late windows.
      const earlier = last?.chainFrom !== undefined ? [...(last.earlier ?? []), [last.chainFrom, last.endTs] as const].slice(-MAX_EARLIER_CHAINS) : last?.earlier;
      next = { endTs: end, counterMj: w.energy_mj, counterEndTs: end, chainFrom: w.ts, ...(earlier && { earlier }) };
    }
    if (slot.pending === undefined) this.touched.push(slot);
    slot.pending = next;
    return out ?? fallback(w);
  }

  /**
   * Past the bound, forgets the least recently written GPUs, a tenth of the
   * bound at a time so the sort is rare. A GPU of the open batch is never
   * forgotten (commit and rollback run with no batch open).
   */
  private keepBounded(): void {
    if (this.slots.size <= this.maxKeys) return;
    const keep = this.maxKeys - Math.floor(this.maxKeys / 10);
    const oldest = [...this.slots].sort((a, b) => a[1].written - b[1].written);
    for (const [key, slot] of oldest.slice(0, this.slots.size - keep)) {
      if (slot.pending !== undefined) continue;
      this.slots.delete(key);
      this.evicted += 1;
    }
  }
}

function fallback(w: EnergyWindow): WindowEnergyResult {
  if (w.window_energy_mj !== undefined) return { energy_j: w.window_energy_mj / 1000, from: 'integral' };
  if (w.power_mean_w !== undefined) return { energy_j: (w.power_mean_w * w.window_ms) / 1000, from: 'mean' };
  return {};
}
