/**
 * One spooled stream of one host (gpu, job): gives each message its header,
 * keeps it in the spool until the server settles it, and decides what to send
 * when. Live messages go out at once; a message not settled within the ack
 * timeout (at least three ack intervals) is resent, oldest first, within a
 * per-second budget, so a backlog never crowds out live windows. mqtt.js has
 * no bound on its own queue, so nothing is handed to it while disconnected or
 * while `maxInflight` publishes await their PUBACK.
 */
import type { AckEntry } from '../../protocol/payloads.js';
import { SeqRanges } from '../../protocol/seq-ranges.js';
import type { MemorySpool, SpoolEntry } from './spool.js';

export interface SenderOptions {
  ackTimeoutMs: number;
  resendPerSecond: number;
  now: () => number;
}

/** What a sender needs from the MQTT link. */
export interface Wire {
  /** Publishes QoS 1; false when it cannot take the message now (disconnected or too many in flight). */
  send(payload: string, onAcked: () => void): boolean;
}

export interface SenderStats {
  produced: number;
  sent: number;
  resent: number;
  settled: number;
  dropped: number;
  rejected_by_server: number;
}

export class StreamSender {
  private seq = 0;
  private resendBudget = 0;
  private budgetAt = 0;
  readonly stats: SenderStats = { produced: 0, sent: 0, resent: 0, settled: 0, dropped: 0, rejected_by_server: 0 };

  constructor(
    readonly stream: string,
    readonly bootId: string,
    private readonly spool: MemorySpool,
    private readonly wire: Wire,
    private readonly opts: SenderOptions,
    /** Told about every message produced and every one dropped, for --record. */
    private readonly observer: { produced(e: SpoolEntry, message: object): void; dropped(e: SpoolEntry[]): void },
  ) {}

  /** Adds the header, spools the message and sends it if the link can take it. */
  produce(body: Record<string, unknown> & { ts: number }): void {
    const seq = this.seq++;
    const message = { v: 1, boot_id: this.bootId, seq, ...body };
    const entry: SpoolEntry = { bootId: this.bootId, seq, ts: body.ts, body: JSON.stringify(message) };
    const dropped = this.spool.add(entry);
    this.stats.produced += 1;
    this.observer.produced(entry, message);
    if (dropped.length > 0) {
      this.stats.dropped += dropped.length;
      this.observer.dropped(dropped);
    }
    this.trySend(entry, false);
  }

  private trySend(entry: SpoolEntry, resend: boolean): boolean {
    const first = this.spool.firstSeq(entry.bootId) ?? entry.seq;
    // first_seq is set at each send: it tells the server what the spool still holds now.
    const payload = `{"first_seq":${first},${entry.body.slice(1)}`;
    const ok = this.wire.send(payload, () => undefined);
    if (ok) {
      entry.sentAt = this.opts.now();
      if (resend) this.stats.resent += 1;
      else this.stats.sent += 1;
    }
    return ok;
  }

  /** Applies the server's ack: settled messages leave the spool. */
  onAck(a: AckEntry): void {
    const settled = new SeqRanges(a.watermark, a.ranges);
    this.stats.settled += this.spool.settle(a.boot_id, (q) => settled.has(q));
    if (a.boot_id === this.bootId) this.stats.rejected_by_server = a.rejected;
  }

  /** Sends what is due: never-sent messages (live first, newest boot first), then timed-out holes within the budget. */
  pump(): void {
    const now = this.opts.now();
    this.resendBudget = Math.min(this.opts.resendPerSecond, this.resendBudget + ((now - this.budgetAt) / 1000) * this.opts.resendPerSecond);
    this.budgetAt = now;
    const due: SpoolEntry[] = [];
    for (const e of this.spool.entries()) {
      if (e.sentAt === undefined) {
        if (!this.trySend(e, false)) return;
      } else if (now - e.sentAt >= this.opts.ackTimeoutMs) due.push(e);
    }
    for (const e of due) {
      if (this.resendBudget < 1) return;
      if (!this.trySend(e, true)) return;
      this.resendBudget -= 1;
    }
  }

  /** True when every message this boot produced up to now is settled. */
  get drained(): boolean {
    return this.spool.firstSeq(this.bootId) === undefined;
  }

  get spooled(): number {
    return this.spool.size;
  }

  close(): void {
    this.spool.close();
  }
}
