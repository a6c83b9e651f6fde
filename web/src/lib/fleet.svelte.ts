/**
 * Live state of the fleet view: the last 15 minutes of fleet power as columns
 * and the newest summary. The series lives in `$state.raw` and every update
 * assigns a new array, because `$state` would deep-proxy ~900 rows x 4
 * columns on each message (ARCHITECTURE.md §8, Svelte 5) and uPlot wants
 * plain arrays anyway.
 */
import {
  FLEET_COLUMNS,
  type ColumnSpec,
  type FleetSummary,
  type ServerMessage,
} from '../../../protocol/ws.js';
import { columnOrder, emptyColumns, mergeColumns, pickColumns, type Columns } from './fleet-series.js';

/** How much history the overview keeps and draws. */
export const FLEET_WINDOW_MS = 15 * 60_000;

/** Canonical column order inside the store: the one protocol/ws.ts documents. */
export const FLEET_COLUMN_NAMES = FLEET_COLUMNS.map((c) => c.name);
export const COL_TS = 0;
export const COL_POWER = FLEET_COLUMN_NAMES.indexOf('power_w');
export const COL_PEAK = FLEET_COLUMN_NAMES.indexOf('peak_upper_w');
export const COL_COVERAGE = FLEET_COLUMN_NAMES.indexOf('coverage');

function isSummary(x: unknown): x is FleetSummary {
  const s = x as Partial<FleetSummary> | null;
  return (
    typeof s === 'object' &&
    s !== null &&
    typeof s.power_w === 'number' &&
    typeof s.hosts === 'number' &&
    typeof s.online_hosts === 'number' &&
    typeof s.gpus === 'number' &&
    typeof s.simulated === 'boolean'
  );
}

export class FleetStore {
  series = $state.raw<Columns>(emptyColumns(FLEET_COLUMNS.length));
  summary = $state.raw<FleetSummary | null>(null);
  /** The schema the server sent, for labels; the contract's until then. */
  schema = $state.raw<readonly ColumnSpec[]>(FLEET_COLUMNS);
  /** True once a `replace` arrived: before that an empty chart means "loading". */
  loaded = $state(false);
  lastError = $state<string | null>(null);
  /** Rows or messages that could not be used, counted rather than thrown (§6.5). */
  rejected = $state(0);

  readonly windowMs: number;
  /** Wire index of each canonical column; the contract's order until a schema says otherwise. */
  #order: number[] = FLEET_COLUMN_NAMES.map((_, i) => i);

  constructor(windowMs = FLEET_WINDOW_MS) {
    this.windowMs = windowMs;
  }

  /** Feeds one server message; anything not for the fleet view is ignored. */
  handle(msg: ServerMessage): void {
    switch (msg.type) {
      case 'schema':
        if (msg.view !== 'fleet' || !Array.isArray(msg.columns)) return;
        this.schema = msg.columns;
        this.#order = columnOrder(msg.columns, FLEET_COLUMN_NAMES);
        // Without ts no row can be placed; say so instead of drawing nothing quietly.
        if (this.#order[COL_TS] === -1) this.lastError = 'fleet schema has no ts column';
        return;
      case 'data': {
        if (msg.view !== 'fleet' || !Array.isArray(msg.columns)) return;
        const incoming = pickColumns(msg.columns, this.#order);
        const { columns, dropped } = mergeColumns(this.series, incoming, msg.replace, this.windowMs);
        this.rejected += dropped;
        if (columns !== this.series) this.series = columns;
        if (msg.replace) this.loaded = true;
        this.lastError = null;
        return;
      }
      case 'summary':
        if (isSummary(msg.summary)) this.summary = msg.summary;
        else this.rejected++;
        return;
      case 'error':
        this.lastError = typeof msg.reason === 'string' ? msg.reason : 'unknown error';
        return;
    }
  }
}
