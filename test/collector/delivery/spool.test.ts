import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DiskSpool } from '../../../collector/delivery/disk-spool.js';
import { MemorySpool, type SpoolEntry } from '../../../collector/delivery/spool.js';
import { tempDir } from '../../helpers/kilowatch-process.js';

const entry = (seq: number, bootId = 'b1'): SpoolEntry => ({ bootId, seq, ts: seq * 1000, body: `{"v":1,"seq":${seq}}` });
const seqs = (s: MemorySpool) => [...s.entries()].map((e) => `${e.bootId}:${e.seq}`);

describe('memory spool', () => {
  it('drops the oldest beyond its bound and reports them', () => {
    const s = new MemorySpool('gpu', { maxMessages: 3, maxBytes: 1e9 });
    for (const q of [0, 1, 2]) expect(s.add(entry(q))).toEqual([]);
    expect(s.add(entry(3)).map((e) => e.seq)).toEqual([0]);
    expect(s.firstSeq('b1')).toBe(1);
    expect(s.dropped).toBe(1);
    expect(s.size).toBe(3);
  });

  it('is bounded in bytes too', () => {
    const s = new MemorySpool('gpu', { maxMessages: 100, maxBytes: 40 });
    for (const q of [0, 1, 2]) s.add(entry(q)); // ~16 bytes each
    expect(s.size).toBe(2);
    expect(s.sizeBytes).toBeLessThanOrEqual(40);
  });

  it('removes what the server settled, holes stay', () => {
    const s = new MemorySpool('gpu', { maxMessages: 10, maxBytes: 1e9 });
    for (const q of [0, 1, 2, 3]) s.add(entry(q));
    expect(s.settle('b1', (q) => q === 0 || q === 2)).toBe(2);
    expect(seqs(s)).toEqual(['b1:1', 'b1:3']);
    expect(s.firstSeq('b1')).toBe(1);
  });
});

describe('disk spool', () => {
  it("survives the process: unsettled messages of an earlier boot come back, marked due, settled ones don't", () => {
    const dir = tempDir('spool');
    const a = new DiskSpool('gpu', { maxMessages: 10, maxBytes: 1e9 }, dir);
    for (const q of [0, 1, 2, 3]) a.add(entry(q, 'old'));
    a.settle('old', (q) => q <= 1);
    // no close(): as after SIGKILL
    const b = new DiskSpool('gpu', { maxMessages: 10, maxBytes: 1e9 }, dir);
    expect(seqs(b)).toEqual(['old:2', 'old:3']);
    expect([...b.entries()].every((e) => e.sentAt === 0)).toBe(true);
    b.add(entry(0, 'new'));
    expect(seqs(b)).toEqual(['old:2', 'old:3', 'new:0']);
    b.settle('old', () => true);
    expect(readdirSync(`${dir}/gpu`).filter((f) => f.startsWith('old'))).toEqual([]); // an emptied boot leaves no files
    b.close();
  });

  it('remembers drops across a restart, so a dropped message is never resent', () => {
    const dir = tempDir('spool');
    const a = new DiskSpool('gpu', { maxMessages: 2, maxBytes: 1e9 }, dir);
    for (const q of [0, 1, 2, 3]) a.add(entry(q));
    const b = new DiskSpool('gpu', { maxMessages: 10, maxBytes: 1e9 }, dir);
    expect(seqs(b)).toEqual(['b1:2', 'b1:3']);
    b.close();
  });
});
