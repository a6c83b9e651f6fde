/**
 * Edge windows for power meters: the readings of each meter within one
 * aligned window become one protocol meter window (stream `meter/<id>`),
 * with min, max, mean, last and count per quantity and the counters as the
 * meter last reported them. Pure: readings and instants in, windows out.
 *
 * Readings are placed by the time the collector received them, not by the
 * device's clock: a window that has gone out cannot be reopened, and the
 * device clocks of cheap plugs are the least trustworthy clocks on site.
 *
 * A counter that goes backwards (a plug reset to factory settings, a meter
 * replaced under the same id) is reported as read and counted here as a
 * reset; the server's energy rules treat any decrease as a restart of the
 * counter, never as negative energy.
 */
import type { MeterWindow } from '../../protocol/payloads.js';
import { StatAccumulator, windowStart } from '../window.js';
import type { MeterReading } from './reading.js';

/** A meter window without the stream header, which the sender adds. */
export type MeterWindowBody = Omit<MeterWindow, 'v' | 'boot_id' | 'seq' | 'first_seq'>;

const STATS = ['power_w', 'voltage_v', 'current_a', 'pf'] as const;
const COUNTERS = ['energy_import_wh', 'energy_export_wh'] as const;

class OpenWindow {
  readonly stats = new Map<(typeof STATS)[number], StatAccumulator>();
  readonly counters: Partial<Record<(typeof COUNTERS)[number], number>> = {};

  constructor(readonly ts: number) {}

  add(r: MeterReading): void {
    for (const f of STATS) {
      const v = r[f];
      if (v === undefined) continue;
      let acc = this.stats.get(f);
      if (!acc) this.stats.set(f, (acc = new StatAccumulator()));
      acc.add(v);
    }
    for (const f of COUNTERS) if (r[f] !== undefined) this.counters[f] = r[f];
  }

  body(windowMs: number): MeterWindowBody {
    const out: MeterWindowBody = { ts: this.ts, window_ms: windowMs };
    for (const [f, acc] of this.stats) {
      const s = acc.toStat();
      if (s) out[f] = s;
    }
    return { ...out, ...this.counters };
  }
}

export interface ClosedMeterWindow {
  meter: string;
  body: MeterWindowBody;
}

export class MeterWindows {
  private readonly open = new Map<string, OpenWindow>();
  private readonly lastCounter = new Map<string, number>();
  private readonly closed: ClosedMeterWindow[] = [];
  counterResets = 0;

  constructor(private readonly windowMs: number) {}

  /** Adds one reading received at `atMs`; returns true when one of its counters went backwards. */
  add(reading: MeterReading, atMs: number): boolean {
    const ts = windowStart(atMs, this.windowMs);
    let w = this.open.get(reading.meter);
    if (w && w.ts !== ts) {
      this.closed.push({ meter: reading.meter, body: w.body(this.windowMs) });
      w = undefined;
    }
    if (!w) this.open.set(reading.meter, (w = new OpenWindow(ts)));
    let reset = false;
    for (const f of COUNTERS) {
      const v = reading[f];
      if (v === undefined) continue;
      const key = `${reading.meter}\u0000${f}`;
      const before = this.lastCounter.get(key);
      if (before !== undefined && v < before) reset = true;
      this.lastCounter.set(key, v);
    }
    if (reset) this.counterResets += 1;
    w.add(reading);
    return reset;
  }

  /** The windows that ended at or before `nowMs`, in the order they closed. */
  takeDue(nowMs: number): ClosedMeterWindow[] {
    for (const [meter, w] of this.open) {
      if (w.ts + this.windowMs <= nowMs) {
        this.closed.push({ meter, body: w.body(this.windowMs) });
        this.open.delete(meter);
      }
    }
    return this.closed.splice(0);
  }

  /** Every window, open or not: at shutdown no reading that arrived is left behind. */
  takeAll(): ClosedMeterWindow[] {
    return this.takeDue(Number.MAX_SAFE_INTEGER);
  }
}
