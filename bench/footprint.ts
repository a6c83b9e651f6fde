/**
 * Footprint row of `npm run bench`: one collector process with 8 GPUs sampled
 * at 10 Hz, publishing to a kilowatch server (which acknowledges, so the
 * spool stays small), measured from /proc: CPU as a share of one core over
 * the run, and resident memory at the end. Sources: the simulator and NVML
 * through the real FFI path against the C stand-in (built with gcc).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort } from './mosquitto.js';
import { cpuSeconds, rssKb } from './proc.js';

/** Measured after this long; KW_BENCH_FOOTPRINT_WARM_MS overrides. */
const WARM_UP_MS = Number(process.env.KW_BENCH_FOOTPRINT_WARM_MS ?? 30_000);

const ROOT = resolve(import.meta.dirname, '../..');
const BIN = join(ROOT, 'bin/kilowatch.js');

export interface Footprint {
  source: string;
  cpuPercentOfCore: number;
  rssMb: number;
  seconds: number;
}

function start(args: string[], ready: RegExp, env: NodeJS.ProcessEnv = {}): Promise<ChildProcess> {
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((res, rej) => {
    let out = '';
    const on = (d: Buffer) => ((out += d.toString()), ready.test(out) && res(child));
    child.stdout!.on('data', on);
    child.stderr!.on('data', on);
    child.once('exit', (code) => rej(new Error(`kilowatch ${args[0]} exited (${code}):\n${out}`)));
  });
}

const stop = (c: ChildProcess) => new Promise<void>((res) => (c.exitCode !== null ? res() : (c.once('exit', () => res()), c.kill('SIGINT'))));

/** Builds the NVML stand-in; the footprint row says so when gcc is missing. */
function nvmlStub(): string {
  const dir = mkdtempSync(join(tmpdir(), 'kilowatch-bench-nvml-'));
  execFileSync('gcc', ['-shared', '-fPIC', '-O2', '-o', join(dir, 'libnvidia-ml.so.1'), join(ROOT, 'test/nvml-stub/libnvidia-ml-stub.c'), '-lm']);
  return dir;
}

export async function footprint(seconds: number): Promise<Footprint[]> {
  const mqttPort = await freePort();
  const server = await start(['server', '--port', '0', '--mqtt-port', String(mqttPort), '--data-dir', mkdtempSync(join(tmpdir(), 'kilowatch-bench-fp-'))], /server ready/);
  const out: Footprint[] = [];
  try {
    const runs: [string, string[], NodeJS.ProcessEnv][] = [
      ['sim', ['--source', 'sim', '--hosts', '1', '--gpus', '8'], {}],
      ['nvml (C stand-in)', ['--source', 'nvml', '--host-id', 'bench-nvml'], { LD_LIBRARY_PATH: nvmlStub(), KW_NVML_STUB_GPUS: '8' }],
    ];
    // Both collectors run side by side over the same interval: each takes 1-2 % of a core, so they do not crowd each other.
    const started = await Promise.allSettled(
      runs.map(([, args, env]) => start(['collector', '--broker', `mqtt://127.0.0.1:${mqttPort}`, '--sample-ms', '100', ...args], /collector: /, env)),
    );
    const collectors = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    const failed = started.find((s) => s.status === 'rejected');
    if (failed) {
      await Promise.all(collectors.map(stop));
      throw failed.reason;
    }
    // Start-up is not the steady state: module loading, JIT, and each NVML worker isolate's one-time
    // garbage clean-up about 8 s in (worth 0.8 points of a core over a 20 s window).
    await new Promise((r) => setTimeout(r, WARM_UP_MS));
    const cpu0 = collectors.map((c) => cpuSeconds(c.pid!));
    const t0 = Date.now();
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const elapsed = (Date.now() - t0) / 1000;
    collectors.forEach((c, i) => out.push({ source: runs[i]![0], cpuPercentOfCore: (100 * (cpuSeconds(c.pid!) - cpu0[i]!)) / elapsed, rssMb: rssKb(c.pid!) / 1024, seconds: elapsed }));
    await Promise.all(collectors.map(stop));
  } finally {
    await stop(server);
  }
  return out;
}
