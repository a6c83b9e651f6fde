/**
 * A spool that survives the collector process: each boot's messages are
 * appended to `<dir>/<boot>.log` as they are produced, and the seqs that left
 * the spool (settled or dropped) are kept in `<boot>.done`, rewritten
 * atomically. At start every earlier boot's unsettled messages are loaded, so
 * they are resent under their own boot_id and seq next to the new boot's.
 * Writes are synchronous appends: a killed process loses nothing it wrote;
 * a power cut may lose what the OS had not flushed (fsync every `syncEveryMs`).
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, statSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { SeqRanges } from '../../protocol/seq-ranges.js';
import { encodeSegment } from '../../protocol/topics.js';
import { MemorySpool, type SpoolEntry, type SpoolLimits } from './spool.js';

interface BootFiles {
  fd: number;
  done: SeqRanges;
  doneDirty: boolean;
}

export class DiskSpool extends MemorySpool {
  private readonly dir: string;
  private readonly files = new Map<string, BootFiles>();
  private lastSync = 0;
  /** Lines that could not be read back (a torn last line after a crash), counted and skipped. */
  unreadable = 0;

  constructor(stream: string, limits: SpoolLimits, rootDir: string, private readonly syncEveryMs = 1000) {
    super(stream, limits);
    this.dir = join(rootDir, encodeSegment(stream));
    mkdirSync(this.dir, { recursive: true });
    this.loadEarlierBoots();
  }

  private paths(bootId: string) {
    const base = join(this.dir, encodeSegment(bootId));
    return { log: `${base}.log`, done: `${base}.done` };
  }

  private bootFiles(bootId: string): BootFiles {
    let f = this.files.get(bootId);
    if (!f) {
      const p = this.paths(bootId);
      const done = existsSync(p.done) ? SeqRanges.fromJSON(readFileSync(p.done, 'utf8')) : new SeqRanges();
      f = { fd: openSync(p.log, 'a'), done, doneDirty: false };
      this.files.set(bootId, f);
    }
    return f;
  }

  private loadEarlierBoots(): void {
    // Oldest boot first, so its backlog is resent first; one stat per file, not per comparison.
    const logs = readdirSync(this.dir)
      .filter((n) => n.endsWith('.log'))
      .map((name) => ({ name, mtime: statSync(join(this.dir, name)).mtimeMs }))
      .sort((a, b) => a.mtime - b.mtime);
    for (const { name } of logs) {
      const bootId = decodeURIComponent(name.slice(0, -4));
      const { log } = this.paths(bootId);
      const done = this.bootFiles(bootId).done;
      for (const line of readFileSync(log, 'utf8').split('\n')) {
        if (line === '') continue;
        let e: SpoolEntry;
        try {
          e = JSON.parse(line) as SpoolEntry;
        } catch {
          this.unreadable += 1;
          continue;
        }
        // sentAt 0: an earlier boot's backlog is due at once, but as resends, within the resend budget.
        if (!done.has(e.seq)) super.add({ bootId, seq: e.seq, ts: e.ts, body: e.body, sentAt: 0 });
      }
      this.removeIfEmpty(bootId);
    }
  }

  override add(entry: SpoolEntry): SpoolEntry[] {
    const f = this.bootFiles(entry.bootId);
    writeSync(f.fd, JSON.stringify({ seq: entry.seq, ts: entry.ts, body: entry.body }) + '\n');
    const dropped = super.add(entry);
    if (dropped.length > 0) this.flushDone();
    this.maybeSync(entry.ts);
    return dropped;
  }

  override settle(bootId: string, isSettled: (seq: number) => boolean): number {
    const removed = super.settle(bootId, isSettled);
    if (removed > 0) this.flushDone();
    this.removeIfEmpty(bootId);
    return removed;
  }

  protected override onRemoved(entry: SpoolEntry): void {
    const f = this.files.get(entry.bootId);
    if (!f) return;
    f.done.add(entry.seq);
    f.doneDirty = true;
  }

  /** Rewrites each changed .done file atomically (write, then rename). */
  private flushDone(): void {
    for (const [bootId, f] of this.files) {
      if (!f.doneDirty) continue;
      const { done } = this.paths(bootId);
      writeFileSync(`${done}.tmp`, JSON.stringify(f.done));
      renameSync(`${done}.tmp`, done);
      f.doneDirty = false;
    }
  }

  /**
   * A boot with nothing left in the spool needs no files: delete them. For the
   * producing boot this is also the compaction: its next message starts a new,
   * short log, so no file grows while the server keeps up.
   */
  private removeIfEmpty(bootId: string): void {
    if (this.firstSeq(bootId) !== undefined) return;
    const f = this.files.get(bootId);
    if (f) closeSync(f.fd);
    this.files.delete(bootId);
    const p = this.paths(bootId);
    for (const file of [p.log, p.done]) if (existsSync(file)) unlinkSync(file);
  }

  private maybeSync(now: number): void {
    if (now - this.lastSync < this.syncEveryMs) return;
    this.lastSync = now;
    for (const f of this.files.values()) fsyncSync(f.fd);
  }

  override close(): void {
    this.flushDone();
    for (const f of this.files.values()) closeSync(f.fd);
    this.files.clear();
  }
}
