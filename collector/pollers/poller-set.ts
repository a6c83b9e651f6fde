/**
 * The collector's pollers as one part of its composition root: starts them,
 * windows their readings with MeterWindows (the same aligned windows as the
 * MQTT and simulated meters, `collector.meter_window_ms`), hands each closed
 * window to the host link, keeps the host's `info` in step with the meters
 * the pollers read, and stops them all at shutdown, publishing every window
 * still open.
 *
 * A poller may only publish meters under its own id (`<id>` or `<id>/...`):
 * a reading for another id would mix two devices in one stream, so it is
 * dropped and counted (`poller_foreign_readings`). A window the server's
 * validator would refuse is counted (`poller_invalid_windows`) and not sent.
 */
import type { MeterInfo } from '../../protocol/payloads.js';
import { validateMeterWindow } from '../../protocol/validate.js';
import { type ClosedMeterWindow, type MeterWindowBody, MeterWindows } from '../meters/meter-windows.js';
import type { MeterReading } from '../meters/reading.js';
import type { MeterPoller } from './poller.js';

export interface PollerSetOptions {
  windowMs: number;
  now: () => number;
  log: (line: string) => void;
  publishWindow(meter: string, body: MeterWindowBody): void;
  inventoryChanged(meters: MeterInfo[]): void;
}

/** How often closed windows are collected and the inventory compared; well under any meter window. */
const CLOSE_EVERY_MS = 250;

export function ownsMeter(pollerId: string, meter: string): boolean {
  return meter === pollerId || meter.startsWith(`${pollerId}/`);
}

export class PollerSet {
  private readonly windows: MeterWindows;
  private readonly counters = { poller_windows: 0, poller_invalid_windows: 0, poller_foreign_readings: 0 };
  private timer: NodeJS.Timeout | undefined;
  private announced = '';
  /** Problems already logged, so a device that keeps failing logs once; bounded like every buffer. */
  private readonly logged = new Set<string>();

  constructor(
    readonly pollers: readonly MeterPoller[],
    private readonly opts: PollerSetOptions,
  ) {
    this.windows = new MeterWindows(opts.windowMs);
  }

  start(): void {
    for (const p of this.pollers) p.start((r, at) => this.accept(p, r, at));
    this.timer = setInterval(() => this.flush(this.windows.takeDue(this.opts.now())), CLOSE_EVERY_MS);
    this.opts.log(`collector pollers: ${this.pollers.map((p) => `${p.kind} ${p.id}`).join(', ')}`);
    this.announce();
  }

  private accept(poller: MeterPoller, reading: MeterReading, atMs: number): void {
    if (!ownsMeter(poller.id, reading.meter)) {
      this.counters.poller_foreign_readings += 1;
      return;
    }
    if (this.windows.add(reading, atMs)) this.note(`reset:${reading.meter}`, `collector pollers: meter ${reading.meter}: an energy counter went backwards; sent as read and counted as a counter reset`);
  }

  private note(key: string, line: string): void {
    if (this.logged.has(key) || this.logged.size >= 1000) return;
    this.logged.add(key);
    this.opts.log(line);
  }

  /** The meters of every poller; a poller learns some only as it reads them (a Redfish BMC's power supplies). */
  meters(): MeterInfo[] {
    return this.pollers.flatMap((p) => p.meters());
  }

  private announce(): void {
    const meters = this.meters();
    const text = JSON.stringify(meters);
    if (text === this.announced) return;
    this.announced = text;
    this.opts.inventoryChanged(meters);
  }

  private flush(closed: ClosedMeterWindow[]): void {
    this.announce();
    for (const { meter, body } of closed) {
      // The server's own validator: a window it would refuse is never spooled.
      const checked = validateMeterWindow({ v: 1, boot_id: 'check', seq: 0, first_seq: 0, ...body });
      if (!checked.ok) {
        this.counters.poller_invalid_windows += 1;
        this.note(`invalid:${meter}:${checked.reason}`, `collector pollers: window of ${meter} not sent (${checked.reason}): ${checked.detail}`);
        continue;
      }
      this.counters.poller_windows += 1;
      this.opts.publishWindow(meter, body);
    }
  }

  /** Each poller's counters as `poller/<id>_<counter>`, beside the set's own. */
  health(): Record<string, number> {
    const out: Record<string, number> = { ...this.counters, poller_counter_resets: this.windows.counterResets };
    for (const p of this.pollers) for (const [k, v] of Object.entries(p.health())) out[`poller/${p.id}_${k}`] = v;
    return out;
  }

  /** Stops every poller (in parallel: each is bounded), then publishes the windows still open. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await Promise.all(this.pollers.map((p) => p.stop()));
    this.flush(this.windows.takeAll());
  }
}
