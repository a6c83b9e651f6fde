/**
 * The alert latency row: 10,000 GPUs (1,250 hosts x 8) at 1 Hz through a
 * real Mosquitto into the kilowatch server with storage on, hosts
 * publishing at their offsets. A few windows a second carry a spike; each
 * fires a threshold rule. Measured from the moment the generator published
 * the window to the moment the alert arrived at a webhook receiver and at a
 * WebSocket client (all on this machine, one clock). The same run times
 * the live fleet view: publish to the first frame carrying the window, in
 * headless Chromium (browser-frames.ts) and in a Node client. Run alone with
 * `node dist/bench/alert-latency.js`; `npm run bench` includes it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import WebSocket from 'ws';
import { type BrowserFrames, type Frame, browserFleetFrames } from './browser-frames.js';
import { startMosquitto } from './mosquitto.js';
import { rssKb } from './proc.js';

const ROOT = resolve(import.meta.dirname, '../..');

export interface LatencyFigures {
  spikes: number;
  webhook: { n: number; p50: number; p99: number; missing: number };
  ws: { n: number; p50: number; p99: number; missing: number };
  /** Window publish -> the first fleet-view frame after it that carries its bucket (10 Hz coalescing), in headless Chromium. */
  live: { n: number; p50: number; p99: number; missing: number };
  /** The same, received by a Node WebSocket client beside the browser. */
  liveNode: { n: number; p50: number; p99: number; missing: number };
  windowsPerSecond: number;
  /** Server RSS with 10,000 GPUs monitored and a 60-minute live ring, MB, and per GPU, KB. */
  rssMb: number;
  rssPerGpuKb: number;
  gpus: number;
}

function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}

function stats(published: Map<string, number>, received: Map<string, number>): LatencyFigures['webhook'] {
  const lat: number[] = [];
  for (const [k, at] of published) {
    const got = received.get(k);
    if (got !== undefined) lat.push(got - at);
  }
  return { n: lat.length, p50: percentile(lat, 50), p99: percentile(lat, 99), missing: published.size - lat.length };
}

/** Live latency: for each timed window, the first fleet frame after its publish that carries its bucket. */
function firstFrames(published: Map<string, number>, frames: readonly Frame[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const [k, at] of published) {
    const bucket = Number(k.slice(k.indexOf('|') + 1)) - 1000;
    const f = frames.find((x) => x.at >= at && x.buckets.includes(bucket));
    if (f) out.set(k, f.at);
  }
  return out;
}

function until(child: ChildProcess, pattern: RegExp): Promise<string> {
  return new Promise((res, rej) => {
    let out = '';
    const on = (d: Buffer) => {
      out += d.toString();
      const m = pattern.exec(out);
      if (m) res(m[1] ?? m[0]);
    };
    child.stdout!.on('data', on);
    child.stderr!.on('data', on);
    child.once('exit', (code) => rej(new Error(`exited (${code}) before ${pattern}:\n${out}`)));
  });
}

export async function alertLatency(seconds = 30, hosts = 1250, gpus = 8): Promise<LatencyFigures> {
  const broker = await startMosquitto();
  const dir = mkdtempSync(join(tmpdir(), 'kilowatch-latency-'));
  const hooks = new Map<string, number>();
  const frames = new Map<string, number>();
  /** Fleet frames to the Node client: when each arrived and the buckets it carried. */
  const fleetFrames: Frame[] = [];
  const keyOf = (host: string, at: number) => `${host}|${at}`;
  const receiver = createServer((req, res) => {
    let text = '';
    req.on('data', (d) => (text += d));
    req.on('end', () => {
      const now = Date.now();
      const b = JSON.parse(text) as { status: string; target: { host: string }; at: number };
      if (b.status === 'firing') hooks.set(keyOf(b.target.host, b.at), now);
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  writeFileSync(join(dir, 'rules.yaml'), [
    'webhooks:',
    `  - { url: "http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook", format: json }`,
    'rules:',
    '  - { id: spike, type: threshold, target: { kind: gpu }, metric: power_w, above: 900, clear: 800, severity: critical }',
  ].join('\n'));
  const server = spawn(process.execPath, [join(ROOT, 'bin/kilowatch.js'), 'server', '--broker', broker.url, '--port', '0', '--data-dir', dir, '--sites', 'bench', '--alert-rules', join(dir, 'rules.yaml'), '--history-minutes', '60', '--max-host-rate', '100000'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let ws: WebSocket | undefined;
  let browser: BrowserFrames | undefined;
  try {
    const url = await until(server, /server ready at (http:\/\/\S+)/);
    browser = await browserFleetFrames(url);
    ws = new WebSocket(`${url.replace('http', 'ws')}/api/v1/live`);
    ws.on('message', (d) => {
      const now = Date.now();
      const m = JSON.parse(d.toString()) as { type: string; view?: string; columns?: number[][]; event?: { to: string; target: { host: string }; at: number } };
      if (m.type === 'alert' && m.event?.to === 'firing') frames.set(keyOf(m.event.target.host, m.event.at), now);
      if (m.type === 'data' && m.view === 'fleet') fleetFrames.push({ at: now, buckets: m.columns?.[0] ?? [] });
    });
    await new Promise((r) => ws!.once('open', r));
    ws.send(JSON.stringify({ type: 'subscribe', view: 'alerts' }));
    ws.send(JSON.stringify({ type: 'subscribe', view: 'fleet' }));
    const health0 = (await (await fetch(`${url}/api/v1/health`)).json()) as { ingest: { windows: number } };
    const gen = spawn(process.execPath, [join(ROOT, 'dist/bench/fleet-at-offsets.js'), JSON.stringify({ url: broker.url, hosts, gpus, seconds, spikesPerSecond: 5, spikeW: 950 })], { stdio: ['ignore', 'pipe', 'inherit'] });
    const published = new Map<string, number>();
    const t0 = Date.now();
    for await (const line of createInterface({ input: gen.stdout! })) {
      const l = JSON.parse(line) as { host?: string; windowEnd?: number; publishedAt?: number; done?: boolean };
      if (l.host) published.set(keyOf(l.host, l.windowEnd!), l.publishedAt!);
    }
    const elapsed = (Date.now() - t0) / 1000;
    await new Promise((r) => setTimeout(r, 3000));
    const health1 = (await (await fetch(`${url}/api/v1/health`)).json()) as { ingest: { windows: number } };
    const serverRssKb = rssKb(server.pid!);
    const browserFrames = await browser.stop();
    browser = undefined;
    return {
      spikes: published.size, webhook: stats(published, hooks), ws: stats(published, frames),
      live: stats(published, firstFrames(published, browserFrames)), liveNode: stats(published, firstFrames(published, fleetFrames)),
      windowsPerSecond: ((health1.ingest.windows - health0.ingest.windows) * gpus) / elapsed,
      rssMb: serverRssKb / 1024, rssPerGpuKb: serverRssKb / (hosts * gpus), gpus: hosts * gpus,
    };
  } finally {
    await browser?.stop().catch(() => undefined);
    ws?.terminate();
    server.kill('SIGINT');
    await new Promise((r) => server.once('exit', r));
    receiver.close();
    await broker.stop();
  }
}

if (process.argv[1]?.endsWith('alert-latency.js')) {
  const f = await alertLatency(Number(process.env.KW_BENCH_LATENCY_SECONDS ?? 30));
  console.log(JSON.stringify(f, null, 2));
}
