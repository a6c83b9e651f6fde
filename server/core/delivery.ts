/**
 * The server side of end-to-end delivery (protocol/README.md, "Delivery").
 * Per (site, host, stream, boot_id) it keeps what is settled (a watermark and
 * ranges above it), what is waiting to be committed, the permanent rejects
 * and the loss the collector declared through first_seq. Pure state: the
 * store persists it in the same transaction as the windows it covers, and the
 * ack publisher reads it.
 */
import type { Ack, AckEntry } from '../../protocol/payloads.js';
import { type Range, SeqRanges, rangeCount } from '../../protocol/seq-ranges.js';

export interface StreamKey {
  site: string;
  host: string;
  stream: string;
  bootId: string;
}

/** The persisted form of one stream's state (table delivery_streams). */
export interface DeliveryRow extends StreamKey {
  watermark: number;
  ranges: Range[];
  rejected: number;
  lost: number;
  lostRanges: Range[];
  updatedMs: number;
}

interface StreamState {
  key: StreamKey;
  settled: SeqRanges;
  /** Accepted, buffered, not yet committed: a copy arriving now is a duplicate, but it is not acknowledged yet. */
  pending: Set<number>;
  rejected: number;
  lost: number;
  /** The most recent loss ranges, for diagnosis; bounded. */
  lostRanges: Range[];
  updatedMs: number;
}

const MAX_LOST_RANGES = 50;

/**
 * Boots kept in memory per (site, host, stream). A collector restarts a few
 * times a week; a storm of messages each under a fresh boot (a broken or
 * hostile sender) would otherwise add a stream per message until the hourly
 * prune. The oldest settled boot gives way (its rows stay in the store).
 */
const MAX_BOOTS_PER_STREAM = 16;

export type Offer = 'new' | 'duplicate';

export interface DeliveryTotals {
  streams: number;
  duplicates: number;
  rejected_settled: number;
  lost_windows: number;
  /** Boots forgotten from memory (more than 16 of one stream): their state stays in the store. */
  evicted_boots: number;
}

export class DeliveryLedger {
  private readonly streams = new Map<string, StreamState>();
  /** Hosts whose acknowledgement changed since the last ack was sent. */
  private readonly ackDirty = new Map<string, Set<StreamState>>();
  /** Streams changed outside a commit (rejects, loss), persisted with the next batch. */
  private readonly persistDirty = new Set<StreamState>();
  /** Per (site, host, stream): its boots in memory, oldest first. */
  private readonly bootsOf = new Map<string, StreamState[]>();
  duplicates = 0;
  /** Boots forgotten from memory to keep MAX_BOOTS_PER_STREAM. */
  evictedBoots = 0;

  private static id(k: StreamKey): string {
    return `${k.site}\n${k.host}\n${k.stream}\n${k.bootId}`;
  }

  private static hostId(site: string, host: string): string {
    return `${site}\n${host}`;
  }

  private state(key: StreamKey, now: number): StreamState {
    const id = DeliveryLedger.id(key);
    let s = this.streams.get(id);
    if (!s) {
      s = { key: { ...key }, settled: new SeqRanges(), pending: new Set(), rejected: 0, lost: 0, lostRanges: [], updatedMs: now };
      this.streams.set(id, s);
      this.keepBootsBounded(s);
    }
    return s;
  }

  /** Forgets the oldest boot of the stream that has nothing waiting for a commit; its ack and row still go out (the dirty sets hold it). */
  private keepBootsBounded(s: StreamState): void {
    const k = `${s.key.site}\n${s.key.host}\n${s.key.stream}`;
    const boots = this.bootsOf.get(k) ?? [];
    boots.push(s);
    this.bootsOf.set(k, boots);
    if (boots.length <= MAX_BOOTS_PER_STREAM) return;
    const i = boots.findIndex((b) => b !== s && b.pending.size === 0);
    if (i < 0) return;
    const [old] = boots.splice(i, 1);
    this.streams.delete(DeliveryLedger.id(old!.key));
    this.evictedBoots += 1;
  }

  private markAck(s: StreamState): void {
    const hid = DeliveryLedger.hostId(s.key.site, s.key.host);
    let set = this.ackDirty.get(hid);
    if (!set) this.ackDirty.set(hid, (set = new Set()));
    set.add(s);
  }

  /** Restores persisted state at start. */
  load(rows: readonly DeliveryRow[]): void {
    for (const r of rows) {
      const s = this.state(r, r.updatedMs);
      s.settled = new SeqRanges(r.watermark, r.ranges.map(([a, b]) => [a, b] as Range));
      s.rejected = r.rejected;
      s.lost = r.lost;
      s.lostRanges = r.lostRanges;
    }
  }

  /**
   * first_seq says the collector holds nothing below it: whatever below it is
   * neither settled nor pending was dropped at the edge, and is recorded as loss.
   */
  private applyFirstSeq(s: StreamState, firstSeq: number): void {
    if (firstSeq - 1 <= s.settled.watermark) return;
    // Pending seqs are not lost (they wait in the write buffer) and must not be
    // acknowledged before they are durable, so find the skipped seqs on a copy
    // that counts them as present, then settle only the skipped ones.
    const probe = new SeqRanges(s.settled.watermark, s.settled.ranges.map(([a, b]) => [a, b] as Range));
    for (const q of s.pending) if (q < firstSeq) probe.add(q);
    const skipped = probe.raiseTo(firstSeq);
    if (skipped.length === 0) return;
    for (const [a, b] of skipped) s.settled.addRange(a, b);
    s.lost += rangeCount(skipped);
    s.lostRanges = [...s.lostRanges, ...skipped].slice(-MAX_LOST_RANGES);
    this.persistDirty.add(s);
    this.markAck(s);
  }

  /** An accepted message arrives: new (now pending) or a duplicate (answered with the current ack). */
  offer(key: StreamKey, seq: number, firstSeq: number, now: number): Offer {
    const s = this.state(key, now);
    s.updatedMs = now;
    if (s.settled.has(seq) || s.pending.has(seq)) {
      this.duplicates += 1;
      this.markAck(s); // acks are not retained: a collector that missed one asks again by resending
      return 'duplicate';
    }
    s.pending.add(seq);
    this.applyFirstSeq(s, firstSeq);
    return 'new';
  }

  /** A permanent reject whose header could be read: settled, counted, acknowledged. */
  reject(key: StreamKey, seq: number, firstSeq: number | undefined, now: number): void {
    const s = this.state(key, now);
    s.updatedMs = now;
    if (s.settled.has(seq) || s.pending.has(seq)) return;
    s.settled.add(seq);
    s.rejected += 1;
    if (firstSeq !== undefined && firstSeq <= seq) this.applyFirstSeq(s, firstSeq);
    this.persistDirty.add(s);
    this.markAck(s);
  }

  /** The buffer refused a message: it is neither settled nor pending, so the collector will resend it. */
  abandon(key: StreamKey, seq: number): void {
    this.streams.get(DeliveryLedger.id(key))?.pending.delete(seq);
  }

  /**
   * The rows to persist with a batch: every stream in it, as it will be once
   * the batch commits, plus streams changed by rejects or loss since.
   */
  rowsForCommit(batch: readonly { key: StreamKey; seq: number }[], now: number): DeliveryRow[] {
    // Group the batch by stream first: one copy of each stream's state, not one per message.
    const seqs = new Map<StreamState, number[]>();
    for (const { key, seq } of batch) {
      const s = this.streams.get(DeliveryLedger.id(key));
      if (!s) continue;
      const list = seqs.get(s);
      if (list) list.push(seq);
      else seqs.set(s, [seq]);
    }
    for (const s of this.persistDirty) if (!seqs.has(s)) seqs.set(s, []);
    const rows: DeliveryRow[] = [];
    for (const [s, list] of seqs) {
      const after = new SeqRanges(s.settled.watermark, s.settled.ranges.slice());
      for (const q of list) after.add(q);
      const k = s.key;
      rows.push({
        site: k.site, host: k.host, stream: k.stream, bootId: k.bootId, watermark: after.watermark, ranges: after.ranges,
        rejected: s.rejected, lost: s.lost, lostRanges: s.lostRanges, updatedMs: now,
      });
    }
    return rows;
  }

  /** The batch is durable: its messages are settled and their hosts get an ack. */
  committed(batch: readonly { key: StreamKey; seq: number }[]): void {
    this.persistDirty.clear();
    for (const { key, seq } of batch) {
      const s = this.streams.get(DeliveryLedger.id(key));
      if (!s) continue;
      s.pending.delete(seq);
      s.settled.add(seq);
      this.markAck(s);
    }
  }

  /** Takes the acks due: one message per host, one entry per changed stream. */
  takeAcks(now: number): { site: string; host: string; ack: Ack }[] {
    const out = [...this.ackDirty.values()].map((set) => {
      const states = [...set];
      const { site, host } = states[0]!.key;
      const acks: AckEntry[] = states.map((s) => ({
        stream: s.key.stream, boot_id: s.key.bootId, watermark: s.settled.watermark, ranges: s.settled.ranges, rejected: s.rejected,
      }));
      return { site, host, ack: { v: 1 as const, ts: now, acks } };
    });
    this.ackDirty.clear();
    return out;
  }

  /** Forgets streams untouched for longer than the longest spool age. */
  prune(olderThanMs: number): number {
    let n = 0;
    for (const [id, s] of this.streams) {
      if (s.updatedMs < olderThanMs && s.pending.size === 0) {
        this.streams.delete(id);
        const k = `${s.key.site}\n${s.key.host}\n${s.key.stream}`;
        const boots = this.bootsOf.get(k)?.filter((b) => b !== s) ?? [];
        if (boots.length === 0) this.bootsOf.delete(k);
        else this.bootsOf.set(k, boots);
        n++;
      }
    }
    return n;
  }

  totals(): DeliveryTotals {
    let rejected = 0;
    let lost = 0;
    for (const s of this.streams.values()) {
      rejected += s.rejected;
      lost += s.lost;
    }
    return { streams: this.streams.size, duplicates: this.duplicates, rejected_settled: rejected, lost_windows: lost, evicted_boots: this.evictedBoots };
  }
}
