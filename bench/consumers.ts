/**
 * The consumers a benchmark row compares, each a separate process so its CPU
 * is its own: the kilowatch server (validating, storing in DuckDB, keeping
 * delivery state and acknowledging), a bare mqtt.js subscriber (the ceiling),
 * and Debian's prometheus-mqtt-exporter (a peer that keeps last values only).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { freePort } from './mosquitto.js';

const ROOT = resolve(import.meta.dirname, '../..');

export interface Consumer {
  name: string;
  pid: number;
  /** Messages it has taken in so far. */
  received(): Promise<number>;
  /** GPU rows written to storage so far, where it stores. */
  stored?(): Promise<number>;
  stop(): Promise<void>;
}

function waitFor(child: ChildProcess, pattern: RegExp, what: string): Promise<void> {
  return new Promise((res, rej) => {
    let out = '';
    const timer = setTimeout(() => rej(new Error(`${what} did not start:\n${out}`)), 30_000);
    const on = (d: Buffer) => {
      out += d.toString();
      if (pattern.test(out)) {
        clearTimeout(timer);
        res();
      }
    };
    child.stdout?.on('data', on);
    child.stderr?.on('data', on);
    child.once('exit', (code) => rej(new Error(`${what} exited (${code}):\n${out}`)));
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((res) => {
    if (child.exitCode !== null) return res();
    child.once('exit', () => res());
    child.kill('SIGINT');
    setTimeout(() => child.kill('SIGKILL'), 15_000).unref();
  });
}

export async function kilowatchServer(brokerUrl: string): Promise<Consumer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'kilowatch-bench-'));
  const child = spawn(process.execPath, [join(ROOT, 'bin/kilowatch.js'), 'server', '--broker', brokerUrl, '--port', '0', '--data-dir', dataDir, '--sites', 'bench'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let url = '';
  child.stdout!.on('data', (d: Buffer) => (url ||= /server ready at (http:\/\/\S+)/.exec(d.toString())?.[1] ?? ''));
  await waitFor(child, /server ready at/, 'kilowatch server');
  const health = async () => (await (await fetch(`${url}/api/v1/health`)).json()) as { ingest: { windows: number; duplicates: number }; store: { written_rows: number } };
  return {
    name: 'kilowatch server',
    pid: child.pid!,
    received: async () => {
      const h = await health();
      return h.ingest.windows + h.ingest.duplicates;
    },
    stored: async () => (await health()).store.written_rows,
    stop: () => stopChild(child),
  };
}

export async function bareSubscriber(brokerUrl: string, filter: string): Promise<Consumer> {
  const child = spawn(process.execPath, [join(ROOT, 'dist/bench/bare-subscriber.js'), brokerUrl, filter], { stdio: ['pipe', 'pipe', 'pipe'] });
  await waitFor(child, /ready/, 'bare subscriber');
  const lines = createInterface({ input: child.stdout! });
  const answers: ((n: number) => void)[] = [];
  lines.on('line', (l) => /^\d+$/.test(l) && answers.shift()?.(Number(l)));
  return {
    name: 'bare mqtt.js subscriber',
    pid: child.pid!,
    received: () => new Promise((res) => (answers.push(res), child.stdin!.write('?\n'))),
    stop: () => stopChild(child),
  };
}

export const EXPORTER = '/usr/bin/prometheus-mqtt-exporter';

/** prometheus-mqtt-exporter keeps the last value per host; the sum of (last seq + 1) over hosts counts what it received. */
export async function prometheusMqttExporter(brokerUrl: string, topicFilter: string): Promise<Consumer> {
  if (!existsSync(EXPORTER)) throw new Error(`${EXPORTER} missing: apt-get install prometheus-mqtt-exporter`);
  const dir = mkdtempSync(join(tmpdir(), 'kilowatch-exporter-'));
  const port = await freePort();
  const cfg = [
    'mqtt:',
    `  server: ${brokerUrl.replace('mqtt://', 'tcp://')}`,
    `  topic_path: ${topicFilter}`,
    `  device_id_regex: "${topicFilter.replace('+', '(?P<deviceid>[^/]+)')}"`,
    '  qos: 1',
    'cache:',
    '  timeout: 60m',
    'metrics:',
    ...[['gpu_power_w', 'gpus.[0].power_w.mean'], ['gpu_energy_mj', 'gpus.[0].energy_mj'], ['gpu_util_pct', 'gpus.[0].util_pct.mean'], ['window_seq', 'seq']]
      .flatMap(([prom, path]) => [`  - prom_name: ${prom}`, `    mqtt_name: ${path}`, `    help: ${prom}`, '    type: gauge']),
  ].join('\n');
  writeFileSync(join(dir, 'exporter.yaml'), cfg);
  const child = spawn(EXPORTER, ['-config', join(dir, 'exporter.yaml'), '-listen-address', '127.0.0.1', '-listen-port', String(port), '-log-level', 'warn'], { stdio: ['ignore', 'pipe', 'pipe'] });
  await new Promise((r) => setTimeout(r, 1000));
  if (child.exitCode !== null) throw new Error('prometheus-mqtt-exporter exited at start');
  return {
    name: 'prometheus-mqtt-exporter',
    pid: child.pid!,
    received: async () => {
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      return text.split('\n').filter((l) => l.startsWith('window_seq{')).reduce((n, l) => n + Number(l.split(' ')[1]) + 1, 0);
    },
    stop: () => stopChild(child),
  };
}
