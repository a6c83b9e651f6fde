/**
 * One measured step: the load generator publishes at a fixed rate for a few
 * seconds while one consumer takes the stream in; the step records what the
 * consumer received, how much CPU it spent, and whether it kept up (its lag
 * stayed flat: at least 97 % of what was published had arrived 1 s after the
 * generator stopped).
 */
import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import type { Consumer } from './consumers.js';
import { cpuSeconds } from './proc.js';

const ROOT = resolve(import.meta.dirname, '../..');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface StepResult {
  offeredPerSecond: number;
  published: number;
  received: number;
  /** Messages per second the consumer took in while the generator ran. */
  receivedPerSecond: number;
  cpuSecondsPerMessage: number;
  keptUp: boolean;
  /** GPU rows stored per GPU-window received, for consumers that store (1.0 = all of it). */
  storedRatio?: number;
}

export interface Load {
  brokerUrl: string;
  hosts: number;
  gpus: number;
  perSecond: number;
  seconds: number;
  bootId: string;
  seqStart: number;
}

function runGenerator(load: Load): Promise<{ published: number; seconds: number }> {
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, [join(ROOT, 'dist/bench/load-generator.js'), JSON.stringify({ ...load, url: load.brokerUrl })], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.once('exit', (code) => (code === 0 ? res(JSON.parse(out.trim().split('\n').at(-1)!)) : rej(new Error(`load generator exited ${code}`))));
  });
}

export async function step(consumer: Consumer, load: Load): Promise<StepResult> {
  const r0 = await consumer.received();
  const s0 = (await consumer.stored?.()) ?? 0;
  const cpu0 = cpuSeconds(consumer.pid);
  const gen = await runGenerator(load);
  await sleep(1000);
  const r1 = await consumer.received();
  const keptUp = r1 - r0 >= 0.97 * gen.published;
  // Let it drain, so the CPU figure covers every message it took in.
  const deadline = Date.now() + 15_000;
  let r2 = r1;
  while (r2 - r0 < gen.published && Date.now() < deadline) {
    await sleep(250);
    r2 = await consumer.received();
  }
  const cpu = cpuSeconds(consumer.pid) - cpu0;
  let storedRatio: number | undefined;
  if (consumer.stored) {
    await sleep(2500); // one store flush interval and then some
    storedRatio = ((await consumer.stored()) - s0) / Math.max(1, (r2 - r0) * load.gpus);
  }
  return {
    offeredPerSecond: load.perSecond,
    published: gen.published,
    received: r2 - r0,
    receivedPerSecond: Math.min(r1 - r0, gen.published) / gen.seconds,
    cpuSecondsPerMessage: cpu / Math.max(1, r2 - r0),
    keptUp,
    storedRatio,
  };
}
