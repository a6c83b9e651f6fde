/**
 * The soak run's fault schedule, pure: which faults a store gets, in what
 * order, how long each is expected to take, and which comes next given the
 * time left. Faults run one at a time (each ends with the store compared
 * against the collectors' records), so the schedule is a repeating cycle
 * started after a fault-free warm-up, not fixed clock times.
 */

export type StoreKind = 'duckdb' | 'victoriametrics';

export type FaultKind = 'broker-restart' | 'server-kill' | 'collector-kill' | 'disk-full' | 'vm-stop' | 'vm-kill' | 'storm';

export const FAULT_TITLES: Record<FaultKind, string> = {
  'broker-restart': 'Mosquitto restarted (persistence false)',
  'server-kill': 'server SIGKILL, restarted',
  'collector-kill': 'one collector SIGKILL, restarted on its spool',
  'disk-full': 'data disk full (tmpfs), then freed',
  'vm-stop': 'VictoriaMetrics stopped, then started',
  'vm-kill': 'VictoriaMetrics SIGKILL, restarted',
  storm: 'malformed-payload storm among good traffic',
};

/** The cycle: the disk fills only under the DuckDB store, VictoriaMetrics stops and dies only when it is the store. */
export function faultCycle(store: StoreKind): FaultKind[] {
  const engine: FaultKind[] = store === 'duckdb' ? ['disk-full'] : ['vm-stop', 'vm-kill'];
  return ['broker-restart', 'server-kill', 'collector-kill', ...engine, 'storm'];
}

export interface Timing {
  /** How long a broker, server, collector or disk outage lasts, and how long VictoriaMetrics stays stopped. */
  outageS: number;
  /** Malformed messages in a storm, and the rate they are expected to go through at. */
  stormMessages: number;
  stormPerSecond: number;
  /** Time to recover, drain the spools and compare the store after a fault; longer for VictoriaMetrics (acks come 15 s late). */
  settleS: number;
}

/** Expected length of one occurrence, seconds: the outage itself plus recovery and the check. */
export function expectedSeconds(kind: FaultKind, t: Timing): number {
  switch (kind) {
    case 'storm':
      return Math.ceil(t.stormMessages / t.stormPerSecond) + t.settleS;
    case 'vm-kill':
      return 5 + t.settleS; // killed and started again at once
    case 'collector-kill':
      return Math.min(t.outageS, 10) + t.settleS; // the collector's hosts produce nothing while it is down: keep that short
    default:
      return t.outageS + t.settleS;
  }
}

/**
 * The server is killed at most this often: its memory must be seen flat after
 * its first 5 minutes, so at least one of its incarnations has to live well
 * past that (in a 30-minute run, from the first kill to near the end).
 */
export const SERVER_KILL_SPACING_S = 20 * 60;

/**
 * The next fault of the cycle from position `index` that fits in the time
 * left, or none. A fault too long for what is left is passed over for a
 * shorter one later in the cycle, once around at most; so is a server kill
 * less than SERVER_KILL_SPACING_S after the previous one (`sinceServerKillS`).
 */
export function nextFault(cycle: readonly FaultKind[], index: number, leftS: number, t: Timing, sinceServerKillS = Infinity): { kind: FaultKind; index: number } | undefined {
  for (let i = 0; i < cycle.length; i++) {
    const kind = cycle[(index + i) % cycle.length]!;
    if (kind === 'server-kill' && sinceServerKillS < SERVER_KILL_SPACING_S) continue;
    if (expectedSeconds(kind, t) <= leftS) return { kind, index: index + i };
  }
  return undefined;
}

export interface Plan {
  totalS: number;
  warmupS: number;
  /** Calm between two faults. */
  gapS: number;
  /** Kept free at the end for the final check. */
  finalS: number;
}

/** The faults a run is expected to see, with their expected start times, s from the start (printed up front, and tested). */
export function planFaults(store: StoreKind, plan: Plan, t: Timing): { kind: FaultKind; atS: number }[] {
  const cycle = faultCycle(store);
  const out: { kind: FaultKind; atS: number }[] = [];
  let at = plan.warmupS;
  let index = 0;
  let serverKilledAt = -Infinity;
  for (;;) {
    const next = nextFault(cycle, index, plan.totalS - plan.finalS - at, t, at - serverKilledAt);
    if (!next) return out;
    out.push({ kind: next.kind, atS: at });
    if (next.kind === 'server-kill') serverKilledAt = at;
    at += expectedSeconds(next.kind, t) + plan.gapS;
    index = next.index + 1;
  }
}
