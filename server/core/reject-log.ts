/**
 * Counts rejected messages by reason and keeps the most recent few with their
 * detail, so /api/v1/health can say not just how many but why. Bounded: the
 * recent list never holds more than `keep` entries.
 */
import type { RejectReason } from '../../protocol/result.js';

export interface RecentReject {
  at: number;
  reason: RejectReason;
  detail: string;
  site?: string;
  host?: string;
}

export class RejectLog {
  private readonly counts = new Map<RejectReason, number>();
  private readonly recent: RecentReject[] = [];
  private total = 0;

  constructor(private readonly keep = 20) {}

  add(entry: RecentReject): void {
    this.total += 1;
    this.counts.set(entry.reason, (this.counts.get(entry.reason) ?? 0) + 1);
    this.recent.push(entry);
    if (this.recent.length > this.keep) this.recent.shift();
  }

  snapshot(): { total: number; by_reason: Record<string, number>; recent: RecentReject[] } {
    return { total: this.total, by_reason: Object.fromEntries(this.counts), recent: [...this.recent] };
  }
}
