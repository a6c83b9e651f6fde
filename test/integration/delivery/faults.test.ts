/**
 * Delivery fault tests (protocol/README.md, "Delivery"): whatever dies, every
 * window the collector produced is stored exactly once, except ranges the
 * collector itself recorded as dropped. Each test ends by comparing the store
 * with the collector's --record file and prints what it compared.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { OUTAGE_MS, expectStoreMatchesRecord } from '../../helpers/delivery-check.js';
import { type KilowatchProcess, eventually, getJson, startKilowatch, tempDir } from '../../helpers/kilowatch-process.js';
import { type Mosquitto, freePort, startMosquitto } from '../../helpers/mosquitto.js';

const running: { stop(signal?: NodeJS.Signals): Promise<unknown> }[] = [];
afterEach(async () => {
  for (const p of running.splice(0).reverse()) await p.stop('SIGKILL').catch(() => undefined);
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function server(broker: string | { mqttPort: number }, dataDir: string): Promise<KilowatchProcess> {
  const args = typeof broker === 'string' ? ['--broker', broker] : ['--mqtt-port', String(broker.mqttPort)];
  const p = await startKilowatch(['server', ...args, '--port', '0', '--data-dir', dataDir], /server ready at/);
  running.push(p);
  return p;
}

async function collector(broker: string, dir: string, extra: string[] = []): Promise<KilowatchProcess> {
  const p = await startKilowatch(
    ['collector', '--broker', broker, '--hosts', '2', '--gpus', '4', '--site', 'fault', '--record', join(dir, 'record.jsonl'), '--ack-timeout-ms', '3000', ...extra],
    /SIMULATED fleet/,
  );
  running.push(p);
  return p;
}

async function mosquitto(opts: { port?: number; dir?: string } = {}): Promise<Mosquitto> {
  // Mosquitto's default: nothing queued survives a restart.
  const m = await startMosquitto({ ...opts, persistence: false });
  running.push(m);
  return m;
}

/** Stops the collector cleanly (it waits for its last acks), then the server, then compares the store with the record. */
async function finish(label: string, c: KilowatchProcess, s: KilowatchProcess, dir: string, dataDir: string) {
  await sleep(4000); // a few ack timeouts for the last resends
  const health = await getJson(`${s.httpUrl}/api/v1/health`);
  expect(await c.stop('SIGINT')).toBe(0);
  expect(await s.stop('SIGINT')).toBe(0);
  const server = `; server: ${health.delivery.duplicates} duplicates absorbed, ${health.delivery.lost_windows} recorded as lost`;
  const cmp = await expectStoreMatchesRecord(label, join(dir, 'record.jsonl'), join(dataDir, 'kilowatch.duckdb'), server);
  return { cmp, health };
}

describe('delivery faults', () => {
  it('1. the broker restarts mid-stream with persistence false', async () => {
    const dir = tempDir('fault1');
    const dataDir = join(dir, 'data');
    const port = await freePort();
    let broker = await mosquitto({ port });
    const s = await server(broker.url, dataDir);
    const c = await collector(broker.url, dir);
    await sleep(3000);
    await broker.stop();
    await sleep(OUTAGE_MS);
    broker = await mosquitto({ port });
    await finish('broker restart', c, s, dir, dataDir);
  });

  it('2a. the server is killed (SIGKILL) and restarted, external Mosquitto, disk spool', async () => {
    const dir = tempDir('fault2a');
    const dataDir = join(dir, 'data');
    const broker = await mosquitto();
    let s = await server(broker.url, dataDir);
    const c = await collector(broker.url, dir, ['--spool-dir', join(dir, 'spool')]);
    await sleep(3000);
    await s.stop('SIGKILL');
    await sleep(OUTAGE_MS);
    s = await server(broker.url, dataDir);
    await finish('server SIGKILL, Mosquitto', c, s, dir, dataDir);
  });

  it('2b. the server is killed (SIGKILL) and restarted, embedded broker, disk spool', async () => {
    const dir = tempDir('fault2b');
    const dataDir = join(dir, 'data');
    const mqttPort = await freePort();
    let s = await server({ mqttPort }, dataDir);
    const c = await collector(`mqtt://127.0.0.1:${mqttPort}`, dir, ['--spool-dir', join(dir, 'spool')]);
    await sleep(3000);
    await s.stop('SIGKILL');
    await sleep(OUTAGE_MS);
    s = await server({ mqttPort }, dataDir);
    await finish('server SIGKILL, embedded broker', c, s, dir, dataDir);
  });

  it('3. the collector is killed while spooling to disk; old-boot and new-boot windows interleave on replay', async () => {
    const dir = tempDir('fault3');
    const dataDir = join(dir, 'data');
    const port = await freePort();
    let broker = await mosquitto({ port });
    const s = await server(broker.url, dataDir);
    const spool = ['--spool-dir', join(dir, 'spool')];
    let c = await collector(broker.url, dir, spool);
    await sleep(2000);
    await broker.stop(); // the collector now spools to disk only
    await sleep(OUTAGE_MS);
    await c.stop('SIGKILL');
    broker = await mosquitto({ port });
    c = await collector(broker.url, dir, spool);
    const { cmp } = await finish('collector SIGKILL, disk spool', c, s, dir, dataDir);
    expect(cmp.boots).toBe(2);
  });

  it('6. a spool too small for an outage: the loss is recorded as a range and counted, and the watermark moves on', async () => {
    const dir = tempDir('fault6');
    const dataDir = join(dir, 'data');
    const port = await freePort();
    let broker = await mosquitto({ port });
    const s = await server(broker.url, dataDir);
    const c = await collector(broker.url, dir, ['--spool-max-messages', '2']);
    await sleep(2000);
    await broker.stop();
    await sleep(Math.max(OUTAGE_MS, 4000)); // 4 windows per host at least: more than the spool holds
    broker = await mosquitto({ port });
    // Live windows flow again and their first_seq tells the server what was dropped.
    await eventually(async () => ((await getJson(`${s.httpUrl}/api/v1/health`)).delivery.lost_windows > 0 ? true : undefined), 15_000);
    const { cmp, health } = await finish('spool too small', c, s, dir, dataDir);
    expect(cmp.dropped).toBeGreaterThan(0);
    // What the collector dropped and the server never got is exactly what the server counts as lost.
    const droppedUnstored = cmp.dropped - (cmp.stored - (cmp.produced - cmp.dropped));
    expect(health.delivery.lost_windows).toBe(droppedUnstored);
  });
});
