import { describe, expect, it } from 'vitest';
import { MemorySpool } from '../../../collector/delivery/spool.js';
import { StreamSender } from '../../../collector/delivery/stream-sender.js';

function setup(opts: { connected?: boolean; resendPerSecond?: number } = {}) {
  let t = 1_000_000;
  const sent: { seq: number; first_seq: number }[] = [];
  const wire = { up: opts.connected ?? true, send: (p: string) => (wire.up ? (sent.push(JSON.parse(p)), true) : false) };
  const spool = new MemorySpool('gpu', { maxMessages: 5, maxBytes: 1e9 });
  const dropped: number[] = [];
  const sender = new StreamSender('gpu', 'boot', spool, wire, { ackTimeoutMs: 3000, resendPerSecond: opts.resendPerSecond ?? 100, now: () => t }, {
    produced: () => undefined,
    dropped: (es) => dropped.push(...es.map((e) => e.seq)),
  });
  return { sender, sent, wire, dropped, advance: (ms: number) => (t += ms) };
}

describe('stream sender', () => {
  it('adds the header, sends live messages at once, and sets first_seq from the spool', () => {
    const { sender, sent } = setup();
    sender.produce({ ts: 0 });
    sender.produce({ ts: 1000 });
    expect(sent).toMatchObject([{ v: 1, boot_id: 'boot', seq: 0, first_seq: 0 }, { seq: 1, first_seq: 0 }]);
  });

  it('resends only unsettled messages, and only after the ack timeout', () => {
    const { sender, sent, advance } = setup();
    for (let i = 0; i < 4; i++) sender.produce({ ts: i * 1000 });
    sender.onAck({ stream: 'gpu', boot_id: 'boot', watermark: 0, ranges: [[2, 2]], rejected: 0 });
    sent.length = 0;
    advance(2999);
    sender.pump();
    expect(sent).toEqual([]);
    advance(1);
    sender.pump();
    expect(sent.map((m) => m.seq)).toEqual([1, 3]); // the holes
    expect(sent[0]!.first_seq).toBe(1);
    expect(sender.stats.resent).toBe(2);
  });

  it('holds messages while the link is down and sends them, oldest first, once it is up', () => {
    const { sender, sent, wire } = setup({ connected: false });
    for (let i = 0; i < 3; i++) sender.produce({ ts: i });
    expect(sent).toEqual([]);
    wire.up = true;
    sender.pump();
    expect(sent.map((m) => m.seq)).toEqual([0, 1, 2]);
  });

  it('drops the oldest when the spool is full, and first_seq moves past them', () => {
    const { sender, sent, wire, dropped } = setup({ connected: false });
    for (let i = 0; i < 8; i++) sender.produce({ ts: i });
    expect(dropped).toEqual([0, 1, 2]);
    wire.up = true;
    sender.pump();
    expect(sent.map((m) => [m.seq, m.first_seq])).toEqual([[3, 3], [4, 3], [5, 3], [6, 3], [7, 3]]);
  });

  it('rate-limits resends so a backlog cannot crowd out live messages', () => {
    const { sender, sent, advance } = setup({ resendPerSecond: 2 });
    for (let i = 0; i < 5; i++) sender.produce({ ts: i });
    sent.length = 0;
    advance(3000);
    sender.produce({ ts: 99 }); // live: the spool drops seq 0 and sends 5 at once
    sender.pump();
    expect(sent.map((m) => m.seq)).toEqual([5, 1, 2]); // live first, then 2 resends within the budget
    expect(sender.drained).toBe(false);
  });
});
