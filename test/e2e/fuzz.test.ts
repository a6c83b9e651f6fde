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
import { type Fuzzed, type Rng, badMessage, oversized as oversizedMessage, rng } from '../../bench/soak/malformed.js';
import { gpuWindow } from '../helpers/windows.js';

const N = Number(process.env.KW_FUZZ_MQTT ?? 20_000);
const M = Number(process.env.KW_FUZZ_HTTP ?? 2_000);
const SEED = Number(process.env.KW_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const RSS_BOUND = Number(process.env.KW_FUZZ_RSS_MB ?? 768) * 1024 * 1024;
const PREFIX = 'kilowatch/v1';

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
        m = oversizedMessage(r);
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
