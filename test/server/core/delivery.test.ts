import { describe, expect, it } from 'vitest';
import { DeliveryLedger, type StreamKey } from '../../../server/core/delivery.js';

const K: StreamKey = { site: 'dc', host: 'n1', stream: 'gpu', bootId: 'b1' };
const item = (seq: number, key = K) => ({ key, seq });

function commit(l: DeliveryLedger, seqs: number[]) {
  const batch = seqs.map((s) => item(s));
  const rows = l.rowsForCommit(batch, 0);
  l.committed(batch);
  return rows;
}

describe('delivery ledger', () => {
  it('acknowledges only what is committed, coalesced per host', () => {
    const l = new DeliveryLedger();
    for (const seq of [0, 1, 2]) expect(l.offer(K, seq, 0, 0)).toBe('new');
    expect(l.takeAcks(0)).toEqual([]); // pending is not durable: no ack
    commit(l, [0, 1, 2]);
    const acks = l.takeAcks(5);
    expect(acks).toEqual([{ site: 'dc', host: 'n1', ack: { v: 1, ts: 5, acks: [{ stream: 'gpu', boot_id: 'b1', watermark: 2, ranges: [], rejected: 0 }] } }]);
    expect(l.takeAcks(6)).toEqual([]);
  });

  it('answers a duplicate (settled or pending) with the current ack and never stores it twice', () => {
    const l = new DeliveryLedger();
    l.offer(K, 0, 0, 0);
    expect(l.offer(K, 0, 0, 0)).toBe('duplicate'); // still pending
    commit(l, [0]);
    l.takeAcks(0);
    expect(l.offer(K, 0, 0, 0)).toBe('duplicate');
    expect(l.takeAcks(1)[0]!.ack.acks[0]).toMatchObject({ watermark: 0 });
    expect(l.totals().duplicates).toBe(2);
  });

  it('keeps holes as ranges when messages arrive out of order', () => {
    const l = new DeliveryLedger();
    for (const seq of [0, 2, 3, 5]) l.offer(K, seq, 0, 0);
    commit(l, [0, 2, 3, 5]);
    expect(l.takeAcks(0)[0]!.ack.acks[0]).toMatchObject({ watermark: 0, ranges: [[2, 3], [5, 5]] });
    l.offer(K, 1, 0, 0);
    l.offer(K, 4, 0, 0);
    commit(l, [4, 1]);
    expect(l.takeAcks(0)[0]!.ack.acks[0]).toMatchObject({ watermark: 5, ranges: [] });
  });

  it('settles a permanent reject so it never blocks the watermark', () => {
    const l = new DeliveryLedger();
    l.offer(K, 0, 0, 0);
    l.reject(K, 1, 0, 0);
    l.offer(K, 2, 0, 0);
    commit(l, [0, 2]);
    expect(l.takeAcks(0)[0]!.ack.acks[0]).toEqual({ stream: 'gpu', boot_id: 'b1', watermark: 2, ranges: [], rejected: 1 });
    expect(l.totals().rejected_settled).toBe(1);
  });


  it('counts exactly the dropped seqs below first_seq', () => {
    const l = new DeliveryLedger();
    l.offer(K, 0, 0, 0);
    commit(l, [0]);
    l.offer(K, 3, 0, 0);
    l.offer(K, 8, 6, 0);
    expect(l.totals().lost_windows).toBe(4); // 1, 2, 4, 5 (3 waits in the buffer)
    const rows = commit(l, [3, 8]);
    // 6 and 7 are still in flight: neither lost nor settled.
    expect(rows[0]).toMatchObject({ watermark: 5, ranges: [[8, 8]], lost: 4, lostRanges: [[1, 2], [4, 5]] });
    expect(l.takeAcks(0)[0]!.ack.acks[0]).toMatchObject({ watermark: 5, ranges: [[8, 8]] });
  });

  it('persists the state a batch will leave, and reloads it', () => {
    const l = new DeliveryLedger();
    for (const seq of [0, 1, 3]) l.offer(K, seq, 0, 0);
    const rows = l.rowsForCommit([item(0), item(1), item(3)], 42);
    expect(rows).toEqual([{ ...K, watermark: 1, ranges: [[3, 3]], rejected: 0, lost: 0, lostRanges: [], updatedMs: 42 }]);
    const fresh = new DeliveryLedger();
    fresh.load(rows);
    expect(fresh.offer(K, 3, 0, 42)).toBe('duplicate');
    expect(fresh.offer(K, 2, 0, 42)).toBe('new');
  });

  it('keeps boots and streams apart', () => {
    const l = new DeliveryLedger();
    const other = { ...K, bootId: 'b2' };
    l.offer(K, 0, 0, 0);
    expect(l.offer(other, 0, 0, 0)).toBe('new');
    commit(l, [0]);
    l.committed([item(0, other)]);
    const [ack] = l.takeAcks(0);
    expect(ack!.ack.acks.map((a) => a.boot_id).sort()).toEqual(['b1', 'b2']);
  });

  it('forgets streams older than the spool age', () => {
    const l = new DeliveryLedger();
    l.offer(K, 0, 0, 100);
    commit(l, [0]);
    expect(l.prune(50)).toBe(0);
    expect(l.prune(200)).toBe(1);
    expect(l.totals().streams).toBe(0);
  });

  it('keeps at most 16 boots of a stream in memory: a storm of fresh boots is settled, acknowledged and persisted, not hoarded', () => {
    const l = new DeliveryLedger();
    l.offer(K, 0, 0, 0); // the live boot, with a window waiting for its commit: never forgotten
    for (let i = 0; i < 1000; i++) l.reject({ ...K, bootId: `storm-${i}` }, 3, 0, 0);
    expect(l.totals().streams).toBe(16);
    expect(l.evictedBoots).toBe(985);
    expect(l.takeAcks(0)[0]!.ack.acks).toHaveLength(1000); // every reject is still acknowledged
    expect(l.rowsForCommit([item(0)], 0)).toHaveLength(1001); // and persisted with the next batch
    expect(l.offer(K, 0, 0, 0)).toBe('duplicate'); // the live boot kept its state
  });
});
