/**
 * Sends the coalesced `_ack` messages (protocol/README.md, "Delivery"): at most
 * one per host per interval, carrying every stream of that host whose settled
 * state changed. Acks are not retained: a collector that was offline asks
 * again by resending, and the duplicate makes the ledger mark its host.
 */
import { hostTopic } from '../../protocol/topics.js';
import type { DeliveryLedger } from '../core/delivery.js';

const MAX_CACHED_TOPICS = 100_000;

export interface AckSink {
  publish(topic: string, payload: string): boolean;
  /** Runs the publishes of one round so they can leave together (one write for thousands of acks). */
  corked(publishes: () => void): void;
}

export class AckPublisher {
  private timer: NodeJS.Timeout | undefined;
  sent = 0;
  /** Ack topics by host: encoding a topic per ack would cost more than the ack. Bounded by the ledger's hosts. */
  private readonly topics = new Map<string, string>();
  /** Acks that could not be sent (broker down); the collectors' resends will ask for them again. */
  unsent = 0;

  constructor(
    private readonly ledger: DeliveryLedger,
    private readonly sink: AckSink,
    private readonly prefix: string,
    private readonly intervalMs: number,
    private readonly now: () => number,
  ) {}

  start(): void {
    this.timer = setInterval(() => this.publishDue(), this.intervalMs);
  }

  publishDue(): void {
    const due = this.ledger.takeAcks(this.now());
    if (due.length > 0) this.sink.corked(() => this.publishAll(due));
  }

  private publishAll(due: ReturnType<DeliveryLedger['takeAcks']>): void {
    for (const { site, host, ack } of due) {
      const id = `${site}\n${host}`;
      let topic = this.topics.get(id);
      if (topic === undefined) {
        // Bounded: hosts come and go; past the bound the cache starts over rather than grow.
        if (this.topics.size >= MAX_CACHED_TOPICS) this.topics.clear();
        this.topics.set(id, (topic = hostTopic(this.prefix, site, host, 'ack')));
      }
      if (this.sink.publish(topic, JSON.stringify(ack))) this.sent += 1;
      else this.unsent += 1;
    }
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
