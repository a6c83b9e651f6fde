/**
 * A bounded buffer of items waiting to be written, counted in rows (one per
 * GPU of a window) because rows are what an engine writes. When full it refuses new windows
 * and counts their rows; it never grows past its bound.
 */
import { type StoredItem, itemRows } from './store.js';

export class WriteBuffer {
  private items: StoredItem[] = [];
  private rows = 0;
  dropped = 0;

  constructor(readonly maxRows: number) {}

  push(item: StoredItem): boolean {
    const rows = itemRows(item);
    if (this.rows + rows > this.maxRows) {
      this.dropped += rows;
      return false;
    }
    this.items.push(item);
    this.rows += rows;
    return true;
  }

  /** Takes everything buffered; hand it back with `restore` if the write fails. */
  take(): StoredItem[] {
    const taken = this.items;
    this.items = [];
    this.rows = 0;
    return taken;
  }

  /** Puts a failed batch back in front, within the bound; what does not fit is counted as dropped. */
  restore(batch: StoredItem[]): void {
    const kept: StoredItem[] = [];
    let rows = this.rows;
    for (const item of batch) {
      const n = itemRows(item);
      if (rows + n > this.maxRows) this.dropped += n;
      else {
        kept.push(item);
        rows += n;
      }
    }
    this.items = kept.concat(this.items);
    this.rows = rows;
  }

  get pendingRows(): number {
    return this.rows;
  }

  get oldestReceivedAt(): number | undefined {
    return this.items[0]?.receivedAt;
  }
}
