/**
 * The collector's spool (protocol/README.md, "Delivery"): every message of a
 * stream stays here until the server settles it. Bounded in messages and
 * bytes; when full the oldest messages are dropped, counted and reported, and
 * first_seq tells the server to record them as loss. This file is the memory
 * spool; disk-spool.ts persists the same structure.
 */

export interface SpoolEntry {
  bootId: string;
  seq: number;
  ts: number;
  /** The message JSON without first_seq, which is set at each send. */
  body: string;
  /** When it was last handed to MQTT; undefined while never sent. */
  sentAt?: number;
}

export interface SpoolLimits {
  maxMessages: number;
  maxBytes: number;
}

export class MemorySpool {
  /** Per boot, entries in ascending seq; boots in the order they were first seen (old boots first). */
  protected readonly boots = new Map<string, SpoolEntry[]>();
  private count = 0;
  private bytes = 0;
  dropped = 0;

  constructor(
    readonly stream: string,
    protected readonly limits: SpoolLimits,
  ) {}

  get size(): number {
    return this.count;
  }

  get sizeBytes(): number {
    return this.bytes;
  }

  /** Adds an entry; returns what had to be dropped to make room, oldest first. */
  add(entry: SpoolEntry): SpoolEntry[] {
    let list = this.boots.get(entry.bootId);
    if (!list) this.boots.set(entry.bootId, (list = []));
    list.push(entry);
    this.count += 1;
    this.bytes += entry.body.length;
    const dropped: SpoolEntry[] = [];
    while (this.count > this.limits.maxMessages || (this.bytes > this.limits.maxBytes && this.count > 1)) {
      const oldest = this.shiftOldest();
      if (!oldest) break;
      dropped.push(oldest);
    }
    this.dropped += dropped.length;
    return dropped;
  }

  private shiftOldest(): SpoolEntry | undefined {
    for (const [bootId, list] of this.boots) {
      const e = list.shift();
      if (list.length === 0) this.boots.delete(bootId);
      if (e) {
        this.count -= 1;
        this.bytes -= e.body.length;
        this.onRemoved(e, 'dropped');
        return e;
      }
    }
    return undefined;
  }

  /** The oldest seq of a boot still held: the first_seq of its next message. */
  firstSeq(bootId: string): number | undefined {
    return this.boots.get(bootId)?.[0]?.seq;
  }

  /** Removes every entry of `bootId` that `isSettled` says the server has settled; returns how many. */
  settle(bootId: string, isSettled: (seq: number) => boolean): number {
    const list = this.boots.get(bootId);
    if (!list) return 0;
    const keep = list.filter((e) => !isSettled(e.seq));
    const removed = list.length - keep.length;
    if (removed === 0) return 0;
    for (const e of list) {
      if (isSettled(e.seq)) {
        this.bytes -= e.body.length;
        this.onRemoved(e, 'settled');
      }
    }
    this.count -= removed;
    if (keep.length === 0) this.boots.delete(bootId);
    else this.boots.set(bootId, keep);
    return removed;
  }

  /** All entries, old boots first, each boot in seq order. */
  *entries(): IterableIterator<SpoolEntry> {
    for (const list of this.boots.values()) yield* list;
  }

  /** Hook for a persistent spool; the memory spool forgets. */
  protected onRemoved(_entry: SpoolEntry, _why: 'settled' | 'dropped'): void {}

  close(): void {}
}
