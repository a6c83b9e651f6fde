/**
 * Fuzz (issue 9 acceptance): `kilowatch all --source sim` takes N random or
 * malformed MQTT payloads mixed with good windows, and M malformed HTTP
 * requests. Expected: the process stays up, its resident memory stays under
 * a stated bound, every reject is counted by reason in /api/v1/health with
 * no internal error, every HTTP answer is a 4xx JSON document with a reason
 * (never a 500, never a dropped connection), and the good windows land.
 *
 *   KW_FUZZ_MQTT   payloads (default 20,000; `npm run soak` sends 1,000,000)
 *   KW_FUZZ_HTTP   requests (default 2,000)
 *   KW_FUZZ_SEED   the generator's seed (default random, printed on failure)
 *   KW_FUZZ_RSS_MB the bound on resident memory (default 768 MiB: the
 *                  all-in-one idles near 150 MiB, DuckDB is capped at 1 GB
 *                  but holds a few MiB here, and buffers are bounded)
 */
import { readFileSync } from 'node:fs';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type KilowatchProcess, eventually, getJson, startKilowatch, tempDir } from '../helpers/kilowatch-process.js';
import { gpuWindow, stat } from '../helpers/windows.js';

const N = Number(process.env.KW_FUZZ_MQTT ?? 20_000);
const M = Number(process.env.KW_FUZZ_HTTP ?? 2_000);
const SEED = Number(process.env.KW_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const RSS_BOUND = Number(process.env.KW_FUZZ_RSS_MB ?? 768) * 1024 * 1024;
const MAX_PAYLOAD = 262_144; // server.max_payload_bytes, the default
const PREFIX = 'kilowatch/v1';

/** mulberry32: small, seeded, good enough to pick mutations reproducibly. */
function rng(seed: number) {
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
type Rng = ReturnType<typeof rng>;

/** One MQTT message; `reason` when the server must reject it for exactly that reason, `maybe` when it may accept or reject it. */
interface Fuzzed {
  topic: string;
  payload: string | Buffer;
  reason?: string;
  maybe?: true;
}

const BAD_HOSTS = ['fz-0', 'fz-1', 'fz-2', 'fz-3'];
const WEIRD_NUMBERS = ['1e999', '-1e999', '1e308', '-0', '123456789012345678901234567890', '0.' + '0'.repeat(400) + '1', '"NaN"', 'null', '[]', '{}', 'true', '"500"'];

function badMessage(r: Rng, now: number): Fuzzed {
  const host = r.pick(BAD_HOSTS);
  const gpuTopic = `${PREFIX}/fuzz/${host}/gpu`;
  const good = () => gpuWindow({ boot_id: 'fuzz', seq: r.int(1e6), first_seq: 0, ts: Math.floor(now / 1000) * 1000 - 5000 });
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

function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]) * 1024;
}

let kw: KilowatchProcess;
let peakRss = 0;
let sampler: NodeJS.Timeout | undefined;

beforeAll(async () => {
  kw = await startKilowatch(['all', '--source', 'sim', '--hosts', '4', '--gpus', '4', '--port', '0', '--mqtt-port', '0', '--data-dir', tempDir('fuzz')], /kilowatch: open http/);
  sampler = setInterval(() => {
    if (kw.child.exitCode === null) peakRss = Math.max(peakRss, rssOf(kw.child.pid!));
  }, 200);
});

afterAll(async () => {
  clearInterval(sampler);
  await kw?.stop();
});

describe(`fuzz (seed ${SEED})`, () => {
  it(`survives ${N} random or malformed MQTT payloads among good windows, counting every reject by reason`, async () => {
    const r = rng(SEED);
    const started = performance.now();
    const before = await getJson(`${kw.httpUrl}/api/v1/health`);
    const client = await mqtt.connectAsync(kw.brokerUrl!, { clientId: 'fuzz', reconnectPeriod: 500 });
    // Good windows come from hosts of their own, each under the per-host rate limit's burst.
    const goodCount = Math.ceil(N / 20);
    const goodHosts = Math.ceil(goodCount / 2000);
    const base = Math.floor(Date.now() / 1000) * 1000 - Math.ceil(goodCount / goodHosts) * 1000 - 10_000;
    const expected = new Map<string, number>();
    let definite = 0;
    let good = 0;
    const lastGood = new Map<string, number>();
    const oversized = Math.min(Math.ceil(N / 500), 200);
    let inFlight: Promise<unknown>[] = [];
    const send = async (topic: string, payload: string | Buffer) => {
      inFlight.push(client.publishAsync(topic, payload, { qos: 1 }));
      if (inFlight.length >= 256) {
        await Promise.all(inFlight);
        inFlight = [];
      }
    };
    for (let i = 0; i < N; i++) {
      let m: Fuzzed;
      if (i % 20 === 0) {
        const host = `fz-good-${good % goodHosts}`;
        const seq = Math.floor(good / goodHosts);
        const ts = base + seq * 1000;
        m = { topic: `${PREFIX}/fuzz/${host}/gpu`, payload: JSON.stringify(gpuWindow({ boot_id: 'good', seq, first_seq: 0, ts })) };
        lastGood.set(host, ts);
        good += 1;
      } else if (i % Math.floor(N / oversized) === 1) {
        m = { topic: `${PREFIX}/fuzz/${r.pick(BAD_HOSTS)}/gpu`, payload: Buffer.alloc(MAX_PAYLOAD + 1 + r.int(40_000), 0x7b), reason: 'oversized' };
      } else {
        m = badMessage(r, Date.now());
      }
      if (m.reason) {
        definite += 1;
        expected.set(m.reason, (expected.get(m.reason) ?? 0) + 1);
      }
      await send(m.topic, m.payload);
    }
    await Promise.all(inFlight);
    await client.endAsync();
    // A topic deeper than Aedes' 100 levels closes the publisher's connection (the broker's own bound); the server carries on.
    for (let i = 0; i < 3; i++) {
      const deep = await mqtt.connectAsync(kw.brokerUrl!, { clientId: `fuzz-deep-${i}`, reconnectPeriod: 0 });
      const closed = new Promise<void>((res) => deep.once('close', () => res()));
      deep.publish(`${PREFIX}/fuzz/fz-0/gpu/${'x/'.repeat(150 + i)}y`, '{}', { qos: 1 });
      const timeout = new Promise<never>((_, rej) => setTimeout(() => rej(new Error(`the broker kept a client that published a ${152 + i}-level topic`)), 5000).unref());
      await Promise.race([closed, timeout]);
      deep.end(true);
    }

    // Every definite reject is counted under its reason; the maybes add to the total or were accepted.
    const health = await eventually(async () => {
      const h = await getJson(`${kw.httpUrl}/api/v1/health`);
      const delta = (reason: string) => (h.rejects.by_reason[reason] ?? 0) - (before.rejects.by_reason[reason] ?? 0);
      return [...expected].every(([reason, n]) => delta(reason) >= n) ? h : undefined;
    }, 60_000, 500).catch(async (err: Error) => {
      const h = await getJson(`${kw.httpUrl}/api/v1/health`);
      throw new Error(`${err.message}; expected at least ${JSON.stringify(Object.fromEntries(expected))}, counted ${JSON.stringify(h.rejects.by_reason)} (before ${JSON.stringify(before.rejects.by_reason)})`);
    });
    expect(health.rejects.total - before.rejects.total).toBeGreaterThanOrEqual(definite);
    expect(health.ingest.internal_errors).toBe(0);
    expect(kw.child.exitCode).toBeNull();

    // The good windows landed: each good host's latest window is live.
    const fleet = await eventually(async () => {
      const f = await getJson(`${kw.httpUrl}/api/v1/fleet`);
      const ok = [...lastGood].every(([host, ts]) => f.hosts.find((h: any) => h.host === host)?.last_window_ts === ts);
      // And the simulated fleet is still fresh beside them.
      const sim = f.hosts.filter((h: any) => h.host.startsWith('sim-'));
      return ok && sim.length === 4 && sim.every((h: any) => h.state === 'online' && !h.stale) ? f : undefined;
    }, 30_000, 500);
    expect(fleet.hosts.filter((h: any) => h.host.startsWith('fz-good-')).reduce((n: number, h: any) => n + h.windows, 0)).toBe(good);
    // What the process holds when it is over the bound: the delivery ledger keeps a stream per (host, stream, boot), settled rejects included.
    const heap = Number(/^kilowatch_process_heap_used_bytes (\S+)$/m.exec(await (await fetch(`${kw.httpUrl}/metrics`)).text())?.[1]);
    const held = `peak RSS ${Math.round(peakRss / 1048576)} MiB over ${N} payloads; now V8 heap ${Math.round(heap / 1048576)} MiB, delivery streams ${health.delivery.streams}`;
    expect(peakRss, held).toBeLessThan(RSS_BOUND);
    const counted = Object.fromEntries(Object.entries(health.rejects.by_reason as Record<string, number>).map(([k, v]) => [k, v - (before.rejects.by_reason[k] ?? 0)]));
    console.log(`fuzz: ${N} payloads (${good} good, ${definite} sure rejects) in ${Math.round(performance.now() - started)} ms; rejects by reason ${JSON.stringify(counted)}; ${held}`);
  }, 120_000 + N); // about 0.4 ms a payload on two cores

  it(`answers ${M} malformed HTTP requests with a 4xx JSON reason each, never a 500`, async () => {
    const r = rng(SEED + 1);
    const failures: string[] = [];
    let done = 0;
    const worker = async () => {
      while (done < M) {
        done += 1;
        const req = badRequest(r);
        try {
          const res = await fetch(`${kw.httpUrl}${req.path}`, { method: req.method, ...(req.body !== undefined && { body: req.body }) });
          const text = await res.text();
          let reason: unknown;
          try {
            reason = (JSON.parse(text) as { error?: unknown }).error;
          } catch {
            reason = undefined;
          }
          const json = res.headers.get('content-type')?.startsWith('application/json');
          if (res.status < 400 || res.status > 499 || !json || typeof reason !== 'string' || reason === '') {
            failures.push(`${req.method} ${req.path.slice(0, 120)} ${req.body === undefined ? '' : `(${String(req.body).slice(0, 60)}…)`} -> ${res.status} ${text.slice(0, 120)}`);
          }
        } catch (err) {
          failures.push(`${req.method} ${req.path.slice(0, 120)} -> no answer: ${(err as Error).message} ${(err as { cause?: Error }).cause?.message ?? ''}`);
        }
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    expect(failures.slice(0, 20), `${failures.length} of ${M} requests were not answered with a 4xx JSON reason`).toEqual([]);
    const health = await getJson(`${kw.httpUrl}/api/v1/health`);
    expect(health.ingest.internal_errors).toBe(0);
    expect(kw.child.exitCode).toBeNull();
    expect(peakRss, `peak RSS ${Math.round(peakRss / 1048576)} MiB`).toBeLessThan(RSS_BOUND);
  }, 120_000 + M * 20);
});

interface BadRequest {
  method: string;
  path: string;
  body?: string | Buffer;
}

const JUNK = ['', 'x', '-1', '1e999', 'NaN', '%zz', '%E0%A4%A', '\u0000', '9'.repeat(400), '[]', '{}', 'null', '../../etc/passwd', "'; DROP TABLE jobs;--"];
const junk = (r: Rng) => encodeURIComponent(r.pick(JUNK)).replace(/%25/g, r.int(2) === 0 ? '%' : '%25');

/** A request every route must refuse: each one carries at least one value that cannot be valid. */
function badRequest(r: Rng): BadRequest {
  const id = () => r.pick(['nope', '%zz', '%E0%A4%A', 'a%2Fb', '%', `fz-${r.int(1e6)}`]);
  const badBody = (): string | Buffer => r.pick<() => string | Buffer>([
    () => '{"id":',
    () => r.bytes(1 + r.int(500)),
    () => '['.repeat(20_000) + ']'.repeat(20_000),
    () => JSON.stringify({ __fuzz: r.pick(JUNK) }),
    () => r.pick(['[]', '"text"', '1', 'true', '{"key": 5}', '{"end": "yesterday"}', '{"duration_s": "long"}', '{"id": 1e999}']),
  ])();
  switch (r.int(6)) {
    case 0: { // bad query values on the GET routes that read them
      const [path, params] = r.pick([
        ['/api/v1/series', ['target', 'agg', 'metric', 'step', 'from', 'to']],
        ['/api/v1/jobs', ['limit', 'offset', 'from', 'to']],
        ['/api/v1/efficiency', ['by', 'from', 'to']],
        ['/api/v1/facility', ['from', 'to']],
        ['/api/v1/alerts', ['history']],
        ['/api/v1/audit', ['limit']],
      ] as const);
      // At least one value that cannot be valid for the route, named once (a repeated name reads its first value).
      const sure = path === '/api/v1/series' ? `step=-${r.int(99)}s` : path === '/api/v1/efficiency' ? 'by=galaxy' : path === '/api/v1/alerts' ? 'history=-1' : path === '/api/v1/audit' ? 'limit=0' : `from=${junk(r)}x`;
      const q = params.filter((p) => r.int(2) === 0 && !sure.startsWith(`${p}=`)).map((p) => `${p}=${junk(r)}`);
      return { method: 'GET', path: `${path}?${[...q, sure].sort(() => r.next() - 0.5).join('&')}` };
    }
    case 1: // bad JSON bodies
      return r.pick<() => BadRequest>([
        () => ({ method: 'POST', path: '/api/v1/jobs', body: badBody() }),
        () => ({ method: 'POST', path: `/api/v1/jobs/${id()}/end`, body: badBody() }),
        () => ({ method: 'POST', path: '/api/v1/alerts/ack', body: badBody() }),
        () => ({ method: 'POST', path: '/api/v1/silences', body: badBody() }),
        () => ({ method: 'POST', path: '/api/v1/rules', body: badBody() }),
        () => ({ method: 'PUT', path: `/api/v1/rules/${id()}`, body: badBody() }),
      ])();
    case 2: // oversized bodies (the limit is 64 KiB)
      return { method: r.pick(['POST', 'PUT']), path: r.pick(['/api/v1/jobs', '/api/v1/silences', '/api/v1/rules/x', '/api/v1/rules']), body: Buffer.alloc(65 * 1024 + r.int(100_000), 0x20) };
    case 3: // methods a route does not take
      return { method: r.pick(['PATCH', 'PUT', 'DELETE', 'OPTIONS', 'POST']), path: r.pick(['/api/v1/fleet', '/api/v1/health', '/api/v1/series', '/api/v1/efficiency', '/api/v1/facility', '/metrics', '/metrics/fleet', '/healthz', '/readyz']) };
    case 4: // bad percent-encoding and unknown ids in paths
      return r.pick<() => BadRequest>([
        () => ({ method: 'GET', path: `/api/v1/jobs/${id()}` }),
        () => ({ method: 'DELETE', path: `/api/v1/silences/${id()}` }),
        () => ({ method: 'DELETE', path: `/api/v1/rules/${id()}` }),
        () => ({ method: 'GET', path: `/api/v1/${r.pick(['%zz', 'nothing', 'fleet/x', '%E0%A4%A/end'])}` }),
      ])();
    default: // unknown API paths
      return { method: r.pick(['GET', 'POST', 'DELETE']), path: `/api/${r.pick(['v2', 'v1', 'x'])}/${junk(r)}` };
  }
}
