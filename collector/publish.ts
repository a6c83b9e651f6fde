/**
 * One MQTT connection per host (§3: one Will per host). On every (re)connect
 * it republishes the retained `status` and `info`, because a broker such as
 * Aedes keeps retained messages only in memory, and subscribes to the host's
 * own `_ack`. Spooled streams (gpu, job, meter/<id>) go through a StreamSender
 * each, which holds every message until the server settles it.
 */
import { join } from 'node:path';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { Ack, HostInfo, HostStatus, JobEvent, MeterInfo, WorkReport } from '../protocol/payloads.js';
import { type StreamKind, encodeSegment, hostTopic } from '../protocol/topics.js';
import { DiskSpool } from './delivery/disk-spool.js';
import { MemorySpool, type SpoolLimits } from './delivery/spool.js';
import { type SenderOptions, StreamSender } from './delivery/stream-sender.js';
import type { Recorder } from './delivery/recorder.js';
import type { MeterWindowBody } from './meters/meter-windows.js';
import type { WindowBody } from './window.js';

export interface HostLinkOptions {
  brokerUrl: string;
  /** Username, password and CA for the broker (cli/mqtt-credentials.ts); none for the embedded one without auth. */
  connect?: Pick<IClientOptions, 'username' | 'password' | 'ca'>;
  prefix: string;
  site: string;
  host: string;
  bootId: string;
  version: string;
  sources: string[];
  /** Replaced by setMeters() as meters are discovered. */
  info: HostInfo;
  /** Empty: memory spool (lost with the process). Otherwise one directory per host below it. */
  spoolDir: string;
  spoolLimits: SpoolLimits;
  sender: SenderOptions;
  /** Publishes awaiting PUBACK before the link holds further messages in the spool. */
  maxInflight: number;
  recorder?: Recorder;
  now: () => number;
  log: (line: string) => void;
}

export class HostLink {
  private client: MqttClient | undefined;
  private inflight = 0;
  private readonly senders = new Map<string, StreamSender>();
  connects = 0;
  badAcks = 0;

  constructor(private readonly opts: HostLinkOptions) {}

  get host(): string {
    return this.opts.host;
  }

  private topic(kind: StreamKind): string {
    return hostTopic(this.opts.prefix, this.opts.site, this.opts.host, kind);
  }

  private status(state: 'online' | 'offline'): string {
    const status: HostStatus = {
      v: 1, state, boot_id: this.opts.bootId, ts: this.opts.now(), version: this.opts.version, sources: this.opts.sources,
    };
    return JSON.stringify(status);
  }

  /**
   * The sender of a spooled stream, created on first use (its spool loads
   * earlier boots' backlog). A meter's stream is `meter/<id as encoded in its topic>`.
   */
  sender(stream: 'gpu' | 'job' | { meter: string }): StreamSender {
    const name = typeof stream === 'string' ? stream : `meter/${encodeSegment(stream.meter)}`;
    let s = this.senders.get(name);
    if (!s) {
      const o = this.opts;
      const spool = o.spoolDir
        ? new DiskSpool(name, o.spoolLimits, join(o.spoolDir, encodeSegment(o.site), encodeSegment(o.host)))
        : new MemorySpool(name, o.spoolLimits);
      const topic = typeof stream === 'string' ? this.topic(stream) : hostTopic(o.prefix, o.site, o.host, 'meter', stream.meter);
      const wire = { send: (payload: string) => this.send(topic, payload) };
      const rec = o.recorder;
      const observer = {
        produced: (e: Parameters<Recorder['produced']>[2], m: object) => rec?.produced(o.host, name, e, m),
        dropped: (es: Parameters<Recorder['dropped']>[2]) => rec?.dropped(o.host, name, es),
      };
      this.senders.set(name, (s = new StreamSender(name, o.bootId, spool, wire, o.sender, observer)));
    }
    return s;
  }

  private send(topic: string, payload: string): boolean {
    const client = this.client;
    if (!client?.connected || this.inflight >= this.opts.maxInflight) return false;
    this.inflight += 1;
    client.publish(topic, payload, { qos: 1 }, () => (this.inflight -= 1));
    return true;
  }

  /** Connects in the background: a dead broker is retried every second, never awaited. */
  start(): void {
    this.sender('gpu'); // load any backlog of earlier boots now, so it is resent from the first connect
    const ackTopic = this.topic('ack');
    const client = mqtt.connect(this.opts.brokerUrl, {
      ...this.opts.connect,
      clientId: `kilowatch-${this.opts.site}-${this.opts.host}`.slice(0, 200),
      clean: true,
      reconnectPeriod: 1000,
      connectTimeout: 10_000,
      will: { topic: this.topic('status'), payload: Buffer.from(this.status('offline')), qos: 1, retain: true },
    });
    this.client = client;
    client.on('connect', () => {
      this.connects += 1;
      this.inflight = 0; // a new session: mqtt.js settles or forgets the old in-flight publishes
      client.subscribe(ackTopic, { qos: 1 });
      client.publish(this.topic('status'), this.status('online'), { qos: 1, retain: true });
      this.publishInfo();
    });
    client.on('message', (topic, payload) => {
      if (topic === ackTopic) this.onAck(payload);
    });
    // One line per distinct error, not one per retry: a dead broker must not flood the log.
    let lastError = '';
    client.on('error', (err) => {
      if (err.message !== lastError) this.opts.log(`collector ${this.opts.host}: MQTT error: ${(lastError = err.message)}`);
    });
  }

  private onAck(payload: Buffer): void {
    try {
      const ack = JSON.parse(payload.toString()) as Ack;
      for (const entry of ack.acks) this.senders.get(entry.stream)?.onAck(entry);
    } catch {
      this.badAcks += 1; // a broken ack settles nothing: the messages stay spooled and are resent
    }
  }

  private publishInfo(): void {
    this.client?.publish(this.topic('info'), JSON.stringify({ ...this.opts.info, ts: this.opts.now() }), { qos: 1, retain: true });
  }

  /** New meters were seen: the retained inventory is replaced (when offline, the next connect sends it). */
  setMeters(meters: MeterInfo[]): void {
    this.opts.info = { ...this.opts.info, meters };
    if (this.client?.connected) this.publishInfo();
  }

  /** One power-meter window on the meter's own stream. */
  publishMeterWindow(meter: string, body: MeterWindowBody): void {
    this.sender({ meter }).produce(body as unknown as Record<string, unknown> & { ts: number });
  }

  publishWindow(body: WindowBody): void {
    this.sender('gpu').produce(body as unknown as Record<string, unknown> & { ts: number });
  }

  /** An application's cumulative work for a job (topic work/<job>): not spooled, a lost report costs only resolution. */
  publishWork(job: string, ts: number, totals: Record<string, number>): void {
    const client = this.client;
    if (!client?.connected) return;
    const report: WorkReport = { v: 1, ts, totals };
    client.publish(hostTopic(this.opts.prefix, this.opts.site, this.opts.host, 'work', job), JSON.stringify(report), { qos: 0 });
  }

  /** A job started or ended on this host: spooled and acknowledged like windows (stream `job`). */
  publishJobEvent(event: Omit<JobEvent, 'v' | 'boot_id' | 'seq' | 'first_seq'>): void {
    this.sender('job').produce(event as unknown as Record<string, unknown> & { ts: number });
  }

  /** Sends what is due on every stream; called on a timer by the collector. */
  pump(): void {
    for (const s of this.senders.values()) s.pump();
  }

  /** True when every message this boot produced is settled. */
  get drained(): boolean {
    return [...this.senders.values()].every((s) => s.drained);
  }

  stats() {
    return Object.fromEntries([...this.senders].map(([k, s]) => [k, { ...s.stats, spooled: s.spooled }]));
  }

  /** A clean stop publishes `offline` itself: the Will fires only on an unclean disconnect. */
  async stop(): Promise<void> {
    const client = this.client;
    if (client?.connected) {
      await client.publishAsync(this.topic('status'), this.status('offline'), { qos: 1, retain: true }).catch(() => undefined);
    }
    await client?.endAsync().catch(() => undefined);
    for (const s of this.senders.values()) s.close();
  }
}
