/**
 * The server's MQTT subscriber. It subscribes per site to the explicit filters
 * of §3 (never '#', which would bring back its own _ack messages) and hands
 * each message to a synchronous handler. mqtt.js sends PUBACK only after the
 * handler returns and reads nothing meanwhile (§8), so the handler must never
 * wait for storage: it only buffers.
 */
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { randomBytes } from 'node:crypto';
import { siteFilters } from '../../protocol/topics.js';
import { WriteCoalescer } from './write-coalescer.js';

export interface IngestClientOptions {
  url: string;
  /** Username, password and CA for an external broker. */
  connect?: Pick<IClientOptions, 'username' | 'password' | 'ca'>;
  prefix: string;
  sites: readonly string[];
  onMessage: (topic: string, payload: Buffer) => void;
  log: (line: string) => void;
}

export class IngestClient {
  private client: MqttClient | undefined;
  private readonly pubacks = new WriteCoalescer();
  received = 0;
  reconnects = 0;

  constructor(private readonly opts: IngestClientOptions) {}

  get connected(): boolean {
    return this.client?.connected ?? false;
  }

  /**
   * Connects and subscribes. Waits at most `waitMs` for the first
   * subscription, then carries on in the background (mqtt.js reconnects and
   * resubscribes), so a broker that is down at start is reported, not fatal.
   */
  async start(waitMs = 10_000): Promise<void> {
    const filters = this.opts.sites.flatMap((site) => siteFilters(this.opts.prefix, site));
    const client = mqtt.connect(this.opts.url, {
      ...this.opts.connect,
      clientId: `kilowatch-server-${randomBytes(4).toString('hex')}`,
      clean: true,
      reconnectPeriod: 1000,
      resubscribe: true,
    });
    this.client = client;
    client.on('message', (topic, payload) => {
      this.received += 1;
      this.pubacks.message(client.stream);
      this.opts.onMessage(topic, payload);
    });
    client.on('reconnect', () => (this.reconnects += 1));
    let lastError = '';
    client.on('error', (err) => {
      if (err.message !== lastError) this.opts.log(`server: MQTT error: ${(lastError = err.message)}`);
    });
    const subscribed = new Promise<boolean>((resolve) => {
      client.once('connect', () => {
        client.subscribe(filters, { qos: 1 }, (err) => {
          if (err) this.opts.log(`server: subscribing failed: ${err.message}`);
          resolve(!err);
        });
      });
    });
    const timeout = new Promise<boolean>((resolve) => setTimeout(() => resolve(false), waitMs).unref());
    if (!(await Promise.race([subscribed, timeout]))) {
      this.opts.log(`server: broker ${this.opts.url} not reachable yet; retrying every second`);
    }
  }

  /** Publishes at QoS 0, not retained (acks: protocol/README.md §6 says why), when connected; false otherwise. */
  publish(topic: string, payload: string): boolean {
    const client = this.client;
    if (!client?.connected) return false;
    client.publish(topic, payload, { qos: 0 });
    return true;
  }

  /**
   * Runs `publishes` with the socket corked, so the packets it writes leave in
   * one write instead of one syscall each. mqtt-packet corks each packet and
   * uncorks it on the next tick; corks nest, so with ours held over the loop
   * nothing leaves until the last of those uncorks, and then all of it at once.
   */
  corked(publishes: () => void): void {
    const stream = this.client?.connected ? this.client.stream : undefined;
    stream?.cork();
    try {
      publishes();
    } finally {
      stream?.uncork();
    }
  }

  /** Publishes retained at QoS 1 (alert state: protocol/README.md topics); '' clears the topic. False when not connected. */
  publishRetained(topic: string, payload: string): boolean {
    const client = this.client;
    if (!client?.connected) return false;
    client.publish(topic, payload, { qos: 1, retain: true });
    return true;
  }

  async stop(): Promise<void> {
    this.pubacks.flush();
    await this.client?.endAsync().catch(() => undefined);
  }
}
