/**
 * One MQTT connection per host (§3: one Will per host). On every (re)connect
 * it republishes the retained `status` and `info`, because a broker such as
 * Aedes keeps retained messages only in memory. Windows get the stream
 * header (boot_id, seq, first_seq) here.
 *
 * mqtt.js queues without bound while disconnected, so a window that cannot be
 * handed to a connected client is dropped and counted instead. The bounded
 * spool with end-to-end acknowledgements that closes this gap is specified in
 * protocol/README.md ("Delivery"); until it exists first_seq equals seq.
 */
import mqtt, { type MqttClient } from 'mqtt';
import type { GpuWindow, HostInfo, HostStatus } from '../protocol/payloads.js';
import { hostTopic } from '../protocol/topics.js';
import type { WindowBody } from './window.js';

export interface HostLinkOptions {
  brokerUrl: string;
  prefix: string;
  site: string;
  host: string;
  bootId: string;
  version: string;
  sources: string[];
  info: HostInfo;
  now: () => number;
  log: (line: string) => void;
}

export interface HostLinkStats {
  published: number;
  droppedOffline: number;
  connects: number;
}

export class HostLink {
  private client: MqttClient | undefined;
  private seq = 0;
  readonly stats: HostLinkStats = { published: 0, droppedOffline: 0, connects: 0 };

  constructor(private readonly opts: HostLinkOptions) {}

  private topic(kind: 'gpu' | 'status' | 'info'): string {
    return hostTopic(this.opts.prefix, this.opts.site, this.opts.host, kind);
  }

  private status(state: 'online' | 'offline'): string {
    const status: HostStatus = {
      v: 1, state, boot_id: this.opts.bootId, ts: this.opts.now(), version: this.opts.version, sources: this.opts.sources,
    };
    return JSON.stringify(status);
  }

  /** Connects in the background: a dead broker is retried every second, never awaited. */
  start(): void {
    const client = mqtt.connect(this.opts.brokerUrl, {
      clientId: `kilowatch-${this.opts.site}-${this.opts.host}`.slice(0, 200),
      clean: true,
      reconnectPeriod: 1000,
      connectTimeout: 10_000,
      will: { topic: this.topic('status'), payload: Buffer.from(this.status('offline')), qos: 1, retain: true },
    });
    this.client = client;
    client.on('connect', () => {
      this.stats.connects += 1;
      client.publish(this.topic('status'), this.status('online'), { qos: 1, retain: true });
      client.publish(this.topic('info'), JSON.stringify({ ...this.opts.info, ts: this.opts.now() }), { qos: 1, retain: true });
    });
    // One line per distinct error, not one per retry: a dead broker must not flood the log.
    let lastError = '';
    client.on('error', (err) => {
      if (err.message !== lastError) this.opts.log(`collector ${this.opts.host}: MQTT error: ${(lastError = err.message)}`);
    });
  }

  /** Adds the stream header and publishes; returns false (and counts) when the broker is unreachable. */
  publishWindow(body: WindowBody): boolean {
    const seq = this.seq++;
    const client = this.client;
    if (!client?.connected) {
      this.stats.droppedOffline += 1;
      return false;
    }
    const window: GpuWindow = { v: 1, boot_id: this.opts.bootId, seq, first_seq: seq, ...body };
    client.publish(this.topic('gpu'), JSON.stringify(window), { qos: 1 });
    this.stats.published += 1;
    return true;
  }

  /** A clean stop publishes `offline` itself: the Will fires only on an unclean disconnect. */
  async stop(): Promise<void> {
    const client = this.client;
    if (!client) return;
    if (client.connected) {
      await client.publishAsync(this.topic('status'), this.status('offline'), { qos: 1, retain: true }).catch(() => undefined);
    }
    await client.endAsync().catch(() => undefined);
  }
}
