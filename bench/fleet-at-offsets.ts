/**
 * Load generator for the latency rows of `npm run bench`: `hosts` hosts of
 * `gpus` GPUs, each publishing one gpu window a second at its own offset
 * within the second (as real collectors do, spread by their host id), over a
 * few MQTT connections at QoS 1. Every second a few hosts (rotating) publish
 * a window whose GPU 0 spiked to `spikeW`; for each, one JSON line goes to
 * stdout: {"host", "windowEnd", "publishedAt"}, so the harness can time the
 * alert it causes. Runs as a child process:
 *
 *   node dist/bench/fleet-at-offsets.js '{"url":"mqtt://...","hosts":1250,"gpus":8,"seconds":30,"spikesPerSecond":5,"spikeW":950}'
 */
import { randomBytes } from 'node:crypto';
import mqtt, { type MqttClient } from 'mqtt';
import { hostTopic } from '../protocol/topics.js';

interface Args {
  url: string;
  hosts: number;
  gpus: number;
  seconds: number;
  spikesPerSecond: number;
  spikeW: number;
  connections?: number;
}

const args = JSON.parse(process.argv[2] ?? '{}') as Args;
const stat = (v: number, max = v + 10) => `{"min":${v - 10},"max":${max},"mean":${v},"last":${v},"n":10}`;
const gpu = (i: number, max?: number) => {
  const p = 300 + (i % 7) * 50;
  return `{"id":"GPU-lat-${String(i).padStart(4, '0')}-0000-4000-8000-000000000000","power_w":${stat(p, max)},"util_pct":${stat(50)},"temp_c":${stat(60)},"power_limit_w":700}`;
};
const normal = Array.from({ length: args.gpus }, (_, i) => gpu(i)).join(',');
// The host total the collector sums per sample at the edge, as every real window carries it.
const hostW = Array.from({ length: args.gpus }, (_, i) => 300 + (i % 7) * 50).reduce((x, y) => x + y, 0);
const hostPower = (max: number) => `"host_power_w":${stat(hostW, max)}`;
const spiked = [gpu(0, args.spikeW), ...Array.from({ length: args.gpus - 1 }, (_, i) => gpu(i + 1))].join(',');
const bootId = randomBytes(6).toString('hex');

async function main(): Promise<void> {
  const n = args.connections ?? 4;
  const clients: MqttClient[] = await Promise.all(Array.from({ length: n }, (_, i) => mqtt.connectAsync(args.url, { clientId: `lat-gen-${process.pid}-${i}`, clean: true })));
  const topics = Array.from({ length: args.hosts }, (_, h) => hostTopic('kilowatch/v1', 'bench', `lat-${h}`, 'gpu'));
  const start = Math.ceil(Date.now() / 1000) * 1000 + 1000;
  const end = start + args.seconds * 1000;
  let published = 0;
  // Host h publishes the window that closed at second s at s + offset(h): offsets spread over the second.
  const offset = (h: number) => Math.floor((h * 1000) / args.hosts);
  const spacing = Math.max(1, Math.floor(args.hosts / args.spikesPerSecond));
  for (let second = start; second < end; second += 1000) {
    const ts = second - 1000;
    const k = (second - start) / 1000;
    for (let h = 0; h < args.hosts; h++) {
      const due = second + offset(h);
      const wait = due - Date.now();
      if (wait > 2) await new Promise((r) => setTimeout(r, wait));
      const spike = (h + k) % spacing === 0;
      const payload = `{"v":1,"boot_id":"${bootId}","seq":${k},"first_seq":0,"ts":${ts},"window_ms":1000,${hostPower(spike ? hostW + args.spikeW : hostW + 10)},"gpus":[${spike ? spiked : normal}]}`;
      clients[h % n]!.publish(topics[h]!, payload, { qos: 1 });
      published += 1;
      if (spike) console.log(JSON.stringify({ host: `lat-${h}`, windowEnd: second, publishedAt: Date.now() }));
    }
  }
  await new Promise((r) => setTimeout(r, 500));
  await Promise.all(clients.map((c) => c.endAsync()));
  console.log(JSON.stringify({ done: true, published }));
}

await main();
