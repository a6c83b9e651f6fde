/**
 * Live power meters: subscribes to the vendor topics on the site broker,
 * turns each message into readings (meter-router.ts), the readings into
 * aligned windows (meter-windows.ts), and hands each closed window to the
 * host link, where it is spooled and acknowledged like any GPU window.
 *
 * Bad input never stops it: an oversized, malformed or unknown message is
 * counted by reason (`meter_rejected_<reason>`) and the first of each reason
 * per meter kind is logged; a window that would not pass the server's
 * validator is counted (`meter_invalid_windows`) and not sent. A dead site
 * broker is retried every second, and what is already spooled is unaffected.
 */
import { redactUrl } from '../../cli/redact-url.js';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { MeterInfo } from '../../protocol/payloads.js';
import { validateMeterWindow } from '../../protocol/validate.js';
import { type MeterRouter, type RouteResult } from './meter-router.js';
import { type MeterWindowBody, MeterWindows } from './meter-windows.js';

export interface MeterListenerOptions {
  brokerUrl: string;
  /** Username, password and CA for the site broker. */
  connect?: Pick<IClientOptions, 'username' | 'password' | 'ca'>;
  clientId: string;
  router: MeterRouter;
  windowMs: number;
  now: () => number;
  log: (line: string) => void;
  publishWindow(meter: string, body: MeterWindowBody): void;
  inventoryChanged(meters: MeterInfo[]): void;
}

/** Zigbee2MQTT's retained device list grows with the network (a few kB per device); state messages are small. */
const MAX_DEVICE_LIST_BYTES = 16 * 1024 * 1024;
const MAX_MESSAGE_BYTES = 256 * 1024;
/** How often closed windows are collected; well under any meter window. */
const CLOSE_EVERY_MS = 250;

export class MeterListener {
  private client: MqttClient | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly windows: MeterWindows;
  private readonly counters: Record<string, number> = { meter_messages: 0, meter_readings: 0, meter_windows: 0, meter_invalid_windows: 0 };
  private readonly logged = new Set<string>();

  constructor(private readonly opts: MeterListenerOptions) {
    this.windows = new MeterWindows(opts.windowMs);
  }

  start(): void {
    const filters = this.opts.router.filters();
    const client = mqtt.connect(this.opts.brokerUrl, { ...this.opts.connect, clientId: this.opts.clientId.slice(0, 200), clean: true, reconnectPeriod: 1000, connectTimeout: 10_000 });
    this.client = client;
    // QoS 0: meters publish at QoS 0 themselves, and a lost reading costs resolution, never energy (counters carry it).
    client.on('connect', () => client.subscribe(filters, { qos: 0 }));
    client.on('message', (topic, payload) => this.onMessage(topic, payload, this.opts.now()));
    let lastError = '';
    client.on('error', (err) => {
      if (err.message !== lastError) this.opts.log(`collector meters: MQTT error on ${redactUrl(this.opts.brokerUrl)}: ${(lastError = err.message)}`);
    });
    this.timer = setInterval(() => this.emit(this.windows.takeDue(this.opts.now())), CLOSE_EVERY_MS);
    this.opts.log(`collector meters: listening on ${redactUrl(this.opts.brokerUrl)} for ${filters.join(' ')}`);
  }

  /** Handles one message; public so tests can drive the pure path without a broker. */
  onMessage(topic: string, payload: Uint8Array, now: number): void {
    this.counters.meter_messages! += 1;
    const limit = topic.endsWith('/bridge/devices') ? MAX_DEVICE_LIST_BYTES : MAX_MESSAGE_BYTES;
    const routed: RouteResult = payload.byteLength > limit
      ? { ok: false, reason: 'oversized', detail: `${payload.byteLength} bytes on ${topic} exceed ${limit}` }
      : this.opts.router.route(topic, payload);
    if (!routed.ok) return this.reject(routed.reason, routed.detail, routed.kind);
    for (const r of routed.readings) {
      this.counters.meter_readings! += 1;
      if (this.windows.add(r, now)) this.note(`reset:${r.meter}`, `collector meters: meter ${r.meter}: an energy counter went backwards; sent as read and counted as a counter reset`);
    }
    if (routed.inventoryChanged) this.opts.inventoryChanged(this.opts.router.inventory());
  }

  private reject(reason: string, detail: string, kind = 'unknown'): void {
    // A Zigbee door sensor or an unmetered Shelly relay is not broken, just not a meter: counted apart, not logged.
    if (reason === 'unmetered') {
      this.counters.meter_ignored_unmetered = (this.counters.meter_ignored_unmetered ?? 0) + 1;
      return;
    }
    const key = `meter_rejected_${reason}`;
    this.counters[key] = (this.counters[key] ?? 0) + 1;
    this.note(`${kind}:${reason}`, `collector meters: ${kind} message dropped (${reason}): ${detail}`);
  }

  /** One log line per distinct kind of problem: a chatty broken device must not flood the log. */
  private note(key: string, line: string): void {
    if (this.logged.has(key) || this.logged.size > 1000) return;
    this.logged.add(key);
    this.opts.log(line);
  }

  private emit(closed: { meter: string; body: MeterWindowBody }[]): void {
    for (const { meter, body } of closed) {
      // The server's own validator: a window it would refuse is never spooled.
      const checked = validateMeterWindow({ v: 1, boot_id: 'check', seq: 0, first_seq: 0, ...body });
      if (!checked.ok) {
        this.counters.meter_invalid_windows! += 1;
        this.note(`invalid:${meter}:${checked.reason}`, `collector meters: window of ${meter} not sent (${checked.reason}): ${checked.detail}`);
        continue;
      }
      this.counters.meter_windows! += 1;
      this.opts.publishWindow(meter, body);
    }
  }

  health(): Record<string, number> {
    return { ...this.counters, meter_counter_resets: this.windows.counterResets, meters_known: this.opts.router.inventory().length };
  }

  /** Publishes every open window (a reading that arrived is never left behind), then disconnects. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.emit(this.windows.takeAll());
    await this.client?.endAsync().catch(() => undefined);
  }
}
