/**
 * WebSocket messages between the server and the web UI (protocol/README.md,
 * "WebSocket"). Series travel columnar, in uPlot's own layout: a schema once
 * per subscription, then arrays of columns [ts[], v1[], v2[], ...].
 */

export type ViewName = 'fleet' | 'alerts' | 'host' | 'gpu' | 'job' | 'group';

export interface ColumnSpec {
  name: string;
  unit: 'ms' | 'W' | 'ratio' | 'count';
  /** What the column means, e.g. "sum of host mean power". */
  label: string;
}

/**
 * Browser to server. `id` names the entity of a host (`site/host`), GPU
 * (`site/host/gpu`) or job (its id) view. `since` (ms) on a resubscription
 * after a reconnect asks for the span missed since then, from the store.
 */
export type ClientMessage =
  | { type: 'subscribe'; view: ViewName; id?: string; since?: number }
  | { type: 'unsubscribe'; view: ViewName; id?: string };

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
  | { type: 'schema'; view: ViewName; id?: string; columns: ColumnSpec[] }
  /**
   * Columnar rows. `replace` (the first message after the schema) means the
   * columns are the whole history; otherwise each row upserts by its ts.
   */
  | { type: 'data'; view: ViewName; replace: boolean; columns: number[][] }
  /**
   * Rows of a host, GPU or job view, one per window, in its schema's column
   * order; null where the window had no such reading. `replace` (the first
   * after the schema, and after frames were skipped) means the columns are the
   * whole span; otherwise each row upserts by its ts.
   */
  | { type: 'rows'; view: 'host' | 'gpu' | 'job' | 'group'; id: string; replace: boolean; columns: (number | null)[][] }
  | { type: 'summary'; view: 'fleet'; summary: FleetSummary }
  /** The active alerts, whole: on subscribing to `alerts`, and after frames were skipped. */
  | { type: 'alerts'; view: 'alerts'; active: WsAlert[] }
  /** One alert transition, sent at once (outside the live views' coalescing); `active` is the alert now, null once resolved. */
  | { type: 'alert'; view: 'alerts'; event: WsAlertEvent; active: WsAlert | null }
  | { type: 'error'; reason: string; view?: ViewName; id?: string };

export interface WsAlertTarget {
  /** `gpu:<site>/<host>/<gpu>`, `host:<site>/<host>`, `group:<name>`, `source:<name>` or `fleet`. */
  label: string;
  site?: string;
  host?: string;
  gpu?: string;
  group?: string;
  source?: string;
}

export interface WsAlert {
  /** `<rule>|<target label>`: acknowledge with it. */
  key: string;
  rule: string;
  severity: 'info' | 'warning' | 'critical';
  target: WsAlertTarget;
  state: 'pending' | 'firing';
  since: number;
  /** When it was last evaluated. */
  lastAt?: number;
  value: number;
  message: string;
  acked?: { by: string; at: number };
  inhibited: boolean;
}

export interface WsAlertEvent {
  key: string;
  rule: string;
  severity: WsAlert['severity'];
  target: WsAlertTarget;
  from: 'inactive' | 'pending' | 'firing';
  to: 'pending' | 'firing' | 'resolved' | 'late';
  value: number;
  /** When the condition was seen: the window's end for window rules, the server's clock for health rules. */
  at: number;
  message: string;
  notify: boolean;
  silenced?: string;
  inhibited?: boolean;
}

/** Columns of the fleet view, in order. */
export const FLEET_COLUMNS: readonly ColumnSpec[] = Object.freeze([
  { name: 'ts', unit: 'ms', label: 'window start' },
  { name: 'power_w', unit: 'W', label: 'fleet power: sum of host mean power' },
  { name: 'peak_upper_w', unit: 'W', label: 'upper bound of fleet peak: sum of host peaks' },
  { name: 'coverage', unit: 'ratio', label: 'hosts reporting / hosts known' },
]);
