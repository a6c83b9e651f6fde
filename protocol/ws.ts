/**
 * WebSocket messages between the server and the web UI (protocol/README.md,
 * "WebSocket"). Series travel columnar, in uPlot's own layout: a schema once
 * per subscription, then arrays of columns [ts[], v1[], v2[], ...].
 */

export type ViewName = 'fleet';

export interface ColumnSpec {
  name: string;
  unit: 'ms' | 'W' | 'ratio' | 'count';
  /** What the column means, e.g. "sum of host mean power". */
  label: string;
}

/** Browser to server. */
export type ClientMessage =
  | { type: 'subscribe'; view: ViewName }
  | { type: 'unsubscribe'; view: ViewName };

export interface FleetSummary {
  /** Sum of the latest mean power of every online host. */
  power_w: number;
  hosts: number;
  online_hosts: number;
  gpus: number;
  /** True when any host's readings come from the simulator. */
  simulated: boolean;
  /** Start of the newest window seen, ms. */
  ts: number | null;
  /** The store's state: degraded while windows cannot be written (they wait in the collectors' spools). */
  store?: { degraded: boolean; reason: string | null };
}

/** Server to browser. */
export type ServerMessage =
  | { type: 'schema'; view: ViewName; columns: ColumnSpec[] }
  /**
   * Columnar rows. `replace` (the first message after the schema) means the
   * columns are the whole history; otherwise each row upserts by its ts.
   */
  | { type: 'data'; view: ViewName; replace: boolean; columns: number[][] }
  | { type: 'summary'; view: 'fleet'; summary: FleetSummary }
  | { type: 'error'; reason: string };

/** Columns of the fleet view, in order. */
export const FLEET_COLUMNS: readonly ColumnSpec[] = Object.freeze([
  { name: 'ts', unit: 'ms', label: 'window start' },
  { name: 'power_w', unit: 'W', label: 'fleet power: sum of host mean power' },
  { name: 'peak_upper_w', unit: 'W', label: 'upper bound of fleet peak: sum of host peaks' },
  { name: 'coverage', unit: 'ratio', label: 'hosts reporting / hosts known' },
]);
