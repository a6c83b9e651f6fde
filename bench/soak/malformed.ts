/**
 * Malformed MQTT payloads: random bytes, truncated JSON, deep nesting, huge
 * and non-numbers, wrong types, refused topics, garbage on every stream.
 * Each message says the reason the server must reject it for, or that it
 * may accept or reject it. Used by the fuzz test (test/e2e/fuzz.test.ts)
 * and the soak run's storm (storm.ts), from one seeded generator.
 */
import type { GpuWindow } from '../../protocol/payloads.js';

const PREFIX = 'kilowatch/v1';
/** server.max_payload_bytes, the default. */
export const MAX_PAYLOAD = 262_144;

/** mulberry32: small, seeded, good enough to pick mutations reproducibly. */
export function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  return { next, int, pick: <T>(xs: readonly T[]): T => xs[int(xs.length)]!, bytes: (n: number) => Buffer.from(Array.from({ length: n }, () => int(256))) };
}
export type Rng = ReturnType<typeof rng>;

/** One MQTT message; `reason` when the server must reject it for exactly that reason, `maybe` when it may accept or reject it. */
export interface Fuzzed {
  topic: string;
  payload: string | Buffer;
  reason?: string;
  maybe?: true;
}

/** The hosts the malformed messages claim to come from (site `fuzz`). */
export const BAD_HOSTS = ['fz-0', 'fz-1', 'fz-2', 'fz-3'];
const WEIRD_NUMBERS = ['1e999', '-1e999', '1e308', '-0', '123456789012345678901234567890', '0.' + '0'.repeat(400) + '1', '"NaN"', 'null', '[]', '{}', 'true', '"500"'];

const stat = (mean: number, spread = 0) => ({ min: mean - spread, max: mean + spread, mean, last: mean, n: 10 });

/** A well-formed window of two GPUs, the base the mutations start from. */
function goodWindow(over: Partial<GpuWindow>): GpuWindow {
  return {
    v: 1, boot_id: 'b00t', seq: 5, first_seq: 0, ts: 1_764_000_000_000, window_ms: 1000, host_power_w: stat(900, 50),
    gpus: [
      { id: 'GPU-aaaa', power_w: stat(500, 20), energy_mj: 1_000_000, util_pct: stat(90), power_limit_w: 700 },
      { id: 'GPU-bbbb', power_w: stat(400, 30), energy_mj: 2_000_000, util_pct: stat(70), power_limit_w: 700 },
    ],
    ...over,
  };
}

export function badMessage(r: Rng, now: number): Fuzzed {
  const host = r.pick(BAD_HOSTS);
  const gpuTopic = `${PREFIX}/fuzz/${host}/gpu`;
  const good = () => goodWindow({ boot_id: 'fuzz', seq: r.int(1e6), first_seq: 0, ts: Math.floor(now / 1000) * 1000 - 5000 });
  switch (r.int(10)) {
    case 0: // random bytes; 0xff never begins JSON
      return { topic: gpuTopic, payload: Buffer.concat([Buffer.from([0xff]), r.bytes(1 + r.int(2000))]), reason: 'invalid_json' };
    case 1: { // truncated JSON: a strict prefix of an object is never JSON
      const text = JSON.stringify(good());
      return { topic: gpuTopic, payload: text.slice(0, 1 + r.int(text.length - 1)), reason: 'invalid_json' };
    }
    case 2: { // deep nesting, inside the size limit
      const d = 1 + r.int(100_000);
      const open = r.int(2) === 0 ? '['.repeat(d) + ']'.repeat(d) : '{"a":'.repeat(d) + '1' + '}'.repeat(d);
      return { topic: gpuTopic, payload: r.int(2) === 0 ? open : `{"v":1,"boot_id":"fuzz","seq":1,"first_seq":0,"ts":${now},"window_ms":1000,"gpus":${open}}`, maybe: true };
    }
    case 3: { // huge, tiny and non-numbers in number fields
      const w = JSON.stringify(good());
      const field = r.pick(['"mean":500', '"max":520', '"energy_mj":1000000', '"window_ms":1000', '"seq":', '"ts":']);
      const at = w.indexOf(field);
      if (field.endsWith(':')) return { topic: gpuTopic, payload: w.replace(new RegExp(`${field}\\d+`), `${field}${r.pick(WEIRD_NUMBERS)}`), maybe: true };
      return { topic: gpuTopic, payload: w.slice(0, at) + field.split(':')[0] + ':' + r.pick(WEIRD_NUMBERS) + w.slice(at + field.length), maybe: true };
    }
    case 4: { // wrong types in required fields
      const [key, value, reason] = r.pick([
        ['v', 2, 'unsupported_version'], ['gpus', 'many', undefined], ['gpus', {}, undefined], ['boot_id', 7, undefined], ['ts', 'now', undefined],
        ['window_ms', true, undefined], ['gpus', [null], undefined], ['gpus', [{ id: 5 }], undefined],
      ] as const);
      return { topic: gpuTopic, payload: JSON.stringify({ ...good(), [key]: value }), ...(reason ? { reason } : {}), maybe: reason ? undefined : true };
    }
    case 5: { // a host the topic grammar refuses: a reserved site, a broken escape, a reserved host
      const topic = r.pick([`${PREFIX}/_fuzz/${host}/gpu`, `${PREFIX}/fuzz/bad%zz${r.int(99)}/gpu`, `${PREFIX}/fuzz/_${host}/gpu`, `${PREFIX}/fuzz/${host}/meter/%G${r.int(9)}`]);
      return { topic, payload: JSON.stringify(good()), reason: 'bad_topic' };
    }
    case 6: { // garbage on the other streams
      const stream = r.pick(['meter/m1', 'job', 'work/j1', 'status', 'info']);
      return { topic: `${PREFIX}/fuzz/${host}/${stream}`, payload: r.pick(['{', 'nul', '{"v":1,', '\u0000\u0001']), reason: 'invalid_json' };
    }
    case 7: // valid JSON of the wrong shape
      return { topic: gpuTopic, payload: r.pick(['1', '"text"', 'null', '[]', 'true', '{}', '[1,2,3]']), maybe: true };
    case 8: // a good header with a bad body, each with its own boot: settled rejects must not pile up state without bound
      return { topic: gpuTopic, payload: JSON.stringify({ ...good(), boot_id: `fz${r.int(1e9).toString(36)}`, gpus: [{ id: 'GPU-x', power_w: stat(-40) }] }), maybe: true };
    default: // topics the server never subscribes to (Aedes' limit of 100 levels is tried on connections of their own)
      return { topic: r.pick([`${PREFIX}/fuzz/${host}/nonsense`, 'fuzz/elsewhere', `${PREFIX}/fuzz/${host}/gpu/${'x/'.repeat(90)}y`, `${PREFIX}/fuzz`]), payload: r.bytes(20), maybe: true };
  }
}

/** A payload over the size limit: refused as oversized before it is parsed. */
export function oversized(r: Rng): Fuzzed {
  return { topic: `${PREFIX}/fuzz/${r.pick(BAD_HOSTS)}/gpu`, payload: Buffer.alloc(MAX_PAYLOAD + 1 + r.int(40_000), 0x7b), reason: 'oversized' };
}
