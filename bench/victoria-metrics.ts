/**
 * A real VictoriaMetrics from Debian's package (`victoria-metrics`, 1.79.5
 * here) on a temporary data dir and a free port, for the integration tests.
 * The flags are the ones the store needs (ARCHITECTURE.md §8): no hidden
 * last 30 s (`-search.latencyOffset=0s`), de-duplication at the window
 * length so a rewritten or replayed window is stored once, and a retention
 * long enough for fixed test timestamps. It can be stopped (SIGTERM: VM
 * flushes), killed (SIGKILL: VM loses what it had not flushed) and started
 * again on the same data dir and port, for the outage tests. When the
 * package is missing it fails and says how to install it: never a silent skip.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './mosquitto.js';

export const VICTORIA_METRICS = '/usr/bin/victoria-metrics';

export function requireVictoriaMetrics(): void {
  if (!existsSync(VICTORIA_METRICS)) {
    throw new Error(`VictoriaMetrics is not installed (${VICTORIA_METRICS} missing): run \`apt-get install victoria-metrics\` (.ci/run does)`);
  }
}

export interface VictoriaMetrics {
  url: string;
  port: number;
  dataDir: string;
  /** The process's output so far (bounded to its last 64 KiB). */
  log(): string;
  running(): boolean;
  /** The running process's id (undefined while stopped). */
  pid(): number | undefined;
  /** SIGTERM: VictoriaMetrics flushes what it buffers, then exits. */
  stop(): Promise<void>;
  /** SIGKILL: whatever VictoriaMetrics still held in memory is lost. */
  kill(): Promise<void>;
  /** Starts it again on the same data dir and port; resolves once /health answers. */
  start(): Promise<void>;
  /** Kills it and removes the data dir. */
  dispose(): Promise<void>;
}

export interface VictoriaOptions {
  /** The collectors' window length: VictoriaMetrics keeps one sample per series per this interval. */
  windowMs?: number;
  dataDir?: string;
  port?: number;
  /** VictoriaMetrics' own defaults for latency offset and de-duplication, to test that the store refuses them. */
  defaults?: boolean;
}

const LOG_BYTES = 64 * 1024;

export async function startVictoriaMetrics(opts: VictoriaOptions = {}): Promise<VictoriaMetrics> {
  requireVictoriaMetrics();
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'kilowatch-vm-'));
  const port = opts.port ?? (await freePort());
  const url = `http://127.0.0.1:${port}`;
  const args = [
    `-storageDataPath=${dataDir}`,
    `-httpListenAddr=127.0.0.1:${port}`,
    '-retentionPeriod=100y', // test data carries fixed timestamps, some far in the past
    '-loggerLevel=WARN',
    ...(opts.defaults ? [] : ['-search.latencyOffset=0s', `-dedup.minScrapeInterval=${opts.windowMs ?? 1000}ms`]),
  ];
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let out = '';

  const launch = async (): Promise<void> => {
    const c = spawn(VICTORIA_METRICS, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child = c;
    const keep = (d: Buffer) => (out = (out + d.toString()).slice(-LOG_BYTES));
    c.stdout?.on('data', keep);
    c.stderr?.on('data', keep);
    exited = new Promise<void>((res) => c.once('exit', () => res()));
    const deadline = Date.now() + 20_000;
    for (;;) {
      const ok = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1000) }).then((r) => r.ok, () => false);
      if (ok) return;
      if (c.exitCode !== null || c.signalCode !== null || Date.now() > deadline) {
        c.kill('SIGKILL');
        throw new Error(`VictoriaMetrics did not start on ${url}:\n${out}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  const signal = async (sig: NodeJS.Signals): Promise<void> => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill(sig);
    await exited;
  };

  await launch();
  return {
    url,
    port,
    dataDir,
    log: () => out,
    running: () => child !== undefined && child.exitCode === null && child.signalCode === null,
    pid: () => (child && child.exitCode === null && child.signalCode === null ? child.pid : undefined),
    stop: () => signal('SIGTERM'),
    kill: () => signal('SIGKILL'),
    async start() {
      if (child && child.exitCode === null && child.signalCode === null) throw new Error('VictoriaMetrics is already running');
      await launch();
    },
    async dispose() {
      await signal('SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
