import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { WriteCoalescer } from '../../../server/mqtt/write-coalescer.js';

/** A socket stand-in that records each write the stream layer makes: one entry per syscall a socket would make. */
function recorder(): { stream: Writable; writes: string[][] } {
  const writes: string[][] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      writes.push([chunk.toString()]);
      done();
    },
    writev(chunks, done) {
      writes.push(chunks.map((c) => (c.chunk as Buffer).toString()));
      done();
    },
  });
  return { stream, writes };
}

const tick = () => new Promise((r) => process.nextTick(r));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('WriteCoalescer', () => {
  it('sends the PUBACKs of messages within the hold time in one write', async () => {
    const { stream, writes } = recorder();
    const c = new WriteCoalescer(20, 16);
    for (const id of ['a', 'b', 'c']) {
      c.message(stream);
      stream.write(id); // what mqtt.js does after the handler returns
      await tick();
    }
    expect(writes).toEqual([]); // still held
    await sleep(40);
    expect(writes).toEqual([['a', 'b', 'c']]);
  });

  it('releases on the next tick once maxHeld messages are held, without waiting for the timer', async () => {
    const { stream, writes } = recorder();
    const c = new WriteCoalescer(10_000, 4);
    for (let i = 0; i < 4; i++) {
      c.message(stream);
      stream.write(String(i));
    }
    await tick();
    expect(writes).toEqual([['0', '1', '2', '3']]);
    // The next message starts a new hold.
    c.message(stream);
    stream.write('4');
    await tick();
    expect(writes).toHaveLength(1);
    c.flush();
    expect(writes).toEqual([['0', '1', '2', '3'], ['4']]);
  });

  it('releases the old stream when a reconnect brings a new one', async () => {
    const old = recorder();
    const fresh = recorder();
    const c = new WriteCoalescer(10_000, 16);
    c.message(old.stream);
    old.stream.write('x');
    c.message(fresh.stream);
    expect(old.writes).toEqual([['x']]);
    fresh.stream.write('y');
    c.flush();
    expect(fresh.writes).toEqual([['y']]);
  });
});
