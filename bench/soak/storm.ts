/**
 * The storm publisher, a process of its own (dist/bench/soak/storm.js):
 * N malformed MQTT payloads (malformed.ts, seeded) through the broker at
 * QoS 1, while the fleet's good traffic goes on. It keeps at most `lead`
 * messages ahead of what the server has taken in (read from its health),
 * so the broker's queue for the server never overflows and the storm
 * measures the server, not Mosquitto's queue limit. Prints a progress line
 * every 5 s (with its own memory and event-loop delay) and a last line with
 * the counts of sure rejects by reason.
 *
 *   node storm.js --broker URL --server URL --count N [--seed S] [--lead L]
 */
import mqtt from 'mqtt';
import { ProcessStats } from '../../cli/process-stats.js';
import { type Fuzzed, badMessage, oversized, rng } from './malformed.js';

const STREAMS = new Set(['gpu', 'job', 'status', 'info']);
const STREAMS_WITH_ID = new Set(['meter', 'work']);

/** Whether the server subscribes to this topic (protocol: explicit per-stream filters under every site), so it counts it as received. */
export function reachesServer(topic: string, prefix = 'kilowatch/v1'): boolean {
  if (!topic.startsWith(`${prefix}/`)) return false;
  const rest = topic.slice(prefix.length + 1).split('/');
  if (rest.length === 3) return STREAMS.has(rest[2]!);
  if (rest.length === 4) return STREAMS_WITH_ID.has(rest[2]!);
  return false;
}

function arg(name: string, fallback?: string): string {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? process.argv[i + 1] : fallback;
  if (v === undefined) throw new Error(`storm: --${name} is required`);
  return v;
}

async function received(server: string): Promise<number> {
  const res = await fetch(`${server}/api/v1/health`, { signal: AbortSignal.timeout(5000) });
  return ((await res.json()) as { mqtt: { received: number } }).mqtt.received;
}

async function main(): Promise<void> {
  const broker = arg('broker');
  const server = arg('server');
  const count = Number(arg('count'));
  const seed = Number(arg('seed', '1'));
  const lead = Number(arg('lead', '20000'));
  const stats = new ProcessStats();
  const r = rng(seed);
  const client = await mqtt.connectAsync(broker, { clientId: `kilowatch-soak-storm-${process.pid}`, reconnectPeriod: 500 });

  // What the fleet sends the server on its own, so the storm's share of `received` can be told apart.
  const r0 = await received(server);
  await new Promise((res) => setTimeout(res, 3000));
  const fleetPerMs = ((await received(server)) - r0) / 3000;
  const started = Date.now();
  const takenIn = async () => (await received(server)) - r0 - fleetPerMs * (Date.now() - started + 3000);

  const sure: Record<string, number> = {};
  let sent = 0;
  let toServer = 0;
  let waits = 0;
  let inFlight: Promise<unknown>[] = [];
  const oversizedEvery = Math.max(2, Math.floor(count / Math.min(Math.ceil(count / 500), 200)));
  const progress = () => JSON.stringify({ sent, to_server: toServer, seconds: Math.round((Date.now() - started) / 1000), waits, process: stats.take() });
  const ticker = setInterval(() => console.log(`storm: ${progress()}`), 5000);

  for (let i = 0; i < count; i++) {
    const m: Fuzzed = i % oversizedEvery === 1 ? oversized(r) : badMessage(r, Date.now());
    if (m.reason) sure[m.reason] = (sure[m.reason] ?? 0) + 1;
    if (reachesServer(m.topic)) toServer += 1;
    inFlight.push(client.publishAsync(m.topic, m.payload, { qos: 1 }));
    sent += 1;
    if (inFlight.length >= 256) {
      await Promise.all(inFlight);
      inFlight = [];
    }
    if (sent % 2000 === 0) {
      while (toServer - (await takenIn()) > lead) {
        waits += 1;
        await new Promise((res) => setTimeout(res, 250));
      }
    }
  }
  await Promise.all(inFlight);
  await client.endAsync();
  clearInterval(ticker);
  console.log(`storm done: ${JSON.stringify({ sent, to_server: toServer, seconds: (Date.now() - started) / 1000, waits, sure })}`);
  stats.stop();
}

if (process.argv[1]?.endsWith('storm.js')) {
  main().catch((err: Error) => {
    console.error(`storm: ${err.stack ?? err.message}`);
    process.exit(1);
  });
}
