/**
 * Load generator for `npm run bench`: publishes protocol v1 gpu windows for
 * many simulated hosts at a target rate over a few MQTT connections (QoS 1).
 * Payloads are built from one template per GPU count, so the generator spends
 * its time in MQTT, not in JSON.stringify. Runs as a child process:
 *
 *   node dist/bench/load-generator.js '{"url":"mqtt://...","hosts":1000,"gpus":8,"perSecond":12500,"seconds":6}'
 *
 * It prints one JSON line at the end: {"published": N, "seconds": S}.
 */
import mqtt, { type MqttClient } from 'mqtt';
import { hostTopic } from '../protocol/topics.js';

interface Args {
  url: string;
  prefix?: string;
  site?: string;
  hosts: number;
  gpus: number;
  /** Messages per second across all hosts. */
  perSecond: number;
  seconds: number;
  connections?: number;
  /** With seqStart, keeps seqs rising across runs of one benchmark row. */
  bootId: string;
  seqStart?: number;
}

const args = JSON.parse(process.argv[2] ?? '{}') as Args;
const prefix = args.prefix ?? 'kilowatch/v1';
const site = args.site ?? 'bench';

function gpuJson(i: number): string {
  const p = 300 + (i % 7) * 50;
  const stat = (v: number) => `{"min":${v - 10},"max":${v + 10},"mean":${v},"last":${v},"n":10}`;
  return `{"id":"GPU-bench-${String(i).padStart(4, '0')}-0000-4000-8000-000000000000","power_w":${stat(p)},"energy_mj":${1e9 + i},` +
    `"util_pct":${stat(50)},"mem_used_mib":${stat(40000)},"temp_c":${stat(60)},"sm_clock_mhz":${stat(1980)},"power_limit_w":700}`;
}

const gpus = Array.from({ length: args.gpus }, (_, i) => gpuJson(i)).join(',');
const hostPower = 300 * args.gpus;
const tail = `,"window_ms":1000,"host_power_w":{"min":${hostPower - 10},"max":${hostPower + 10},"mean":${hostPower},"last":${hostPower},"n":10},"gpus":[${gpus}]}`;
const topics = Array.from({ length: args.hosts }, (_, h) => hostTopic(prefix, site, `bench-${h}`, 'gpu'));
const seqs = new Array<number>(args.hosts).fill(args.seqStart ?? 0);

async function main(): Promise<void> {
  const n = args.connections ?? 4;
  const clients: MqttClient[] = await Promise.all(
    Array.from({ length: n }, (_, i) => mqtt.connectAsync(args.url, { clientId: `bench-gen-${process.pid}-${i}`, clean: true })),
  );
  let published = 0;
  let inflight = 0;
  const start = Date.now();
  const end = start + args.seconds * 1000;
  let host = 0;
  // Publish in 10 ms slices to hold the rate steady; back off when too many await PUBACK.
  while (Date.now() < end) {
    const due = Math.floor(((Date.now() - start) / 1000) * args.perSecond);
    while (published < due && inflight < 20_000) {
      const h = host;
      host = (host + 1) % args.hosts;
      const seq = seqs[h]!++;
      const ts = Math.floor(Date.now() / 1000) * 1000;
      const payload = `{"v":1,"boot_id":"${args.bootId}","seq":${seq},"first_seq":${seq},"ts":${ts}${tail}`;
      inflight++;
      clients[h % n]!.publish(topics[h]!, payload, { qos: 1 }, () => inflight--);
      published++;
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  while (inflight > 0 && Date.now() < end + 10_000) await new Promise((r) => setTimeout(r, 20));
  await Promise.all(clients.map((c) => c.endAsync()));
  console.log(JSON.stringify({ published, seconds: (Date.now() - start) / 1000 }));
}

await main();
