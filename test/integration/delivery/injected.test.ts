/**
 * Delivery faults injected by hand: a test client speaks protocol v1 itself,
 * so it can send duplicates, reorder windows and send one that can never be
 * accepted, then read the server's _ack and the DuckDB file.
 */
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import mqtt, { type MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import type { Ack } from '../../../protocol/payloads.js';
import { type KilowatchProcess, eventually, getJson, startKilowatch, tempDir } from '../../helpers/kilowatch-process.js';
import { gpuWindow, windowWithRawPower } from '../../helpers/windows.js';

const T = 'kilowatch/v1/inj/h1';
let server: KilowatchProcess | undefined;
let client: MqttClient | undefined;
afterEach(async () => {
  await client?.endAsync();
  await server?.stop('SIGKILL');
});

async function setup() {
  const dataDir = tempDir('inject');
  server = await startKilowatch(['server', '--port', '0', '--mqtt-port', '0', '--data-dir', dataDir], /server ready at/);
  client = await mqtt.connectAsync(server.brokerUrl!, { clientId: 'inject-h1' });
  const acks: Ack[] = [];
  client.on('message', (_t, p) => acks.push(JSON.parse(p.toString()) as Ack));
  await client.subscribeAsync(`${T}/_ack`, { qos: 1 });
  return { dataDir, acks };
}

const now = () => Math.floor(Date.now() / 1000) * 1000 - 10_000;
const window = (seq: number, boot = 'boot-a') => JSON.stringify(gpuWindow({ boot_id: boot, seq, first_seq: 0, ts: now() + seq * 1000 }));
const latest = (acks: Ack[], boot = 'boot-a') => acks.flatMap((a) => a.acks).filter((e) => e.boot_id === boot).at(-1);

async function storedSeqs(dataDir: string): Promise<{ boot_id: string; seq: number; copies: number }[]> {
  const db = await DuckDBInstance.create(join(dataDir, 'kilowatch.duckdb'));
  const conn = await db.connect();
  const rows = (await conn.runAndReadAll(
    'SELECT boot_id, seq::INT AS seq, (count(*) / count(DISTINCT gpu_id))::INT AS copies FROM gpu_windows GROUP BY ALL ORDER BY boot_id, seq',
  )).getRowObjectsJS();
  conn.closeSync();
  db.closeSync();
  return rows as { boot_id: string; seq: number; copies: number }[];
}

describe('delivery, injected by hand', () => {
  it('4. duplicates and reordering: each window stored once, the watermark covers all, a duplicate brings the ack back', async () => {
    const { dataDir, acks } = await setup();
    for (const seq of [0, 2, 1, 1, 4, 3, 0, 2]) await client!.publishAsync(`${T}/gpu`, window(seq), { qos: 1 });
    await client!.publishAsync(`${T}/gpu`, window(0, 'boot-b'), { qos: 1 }); // another boot of the same host
    await eventually(() => (latest(acks)?.watermark === 4 ? true : undefined));
    expect(latest(acks)).toEqual({ stream: 'gpu', boot_id: 'boot-a', watermark: 4, ranges: [], rejected: 0 });
    expect(latest(acks, 'boot-b')).toMatchObject({ watermark: 0 });

    // Acks are not retained: a collector that missed one resends, and the duplicate brings the ack again.
    const before = acks.length;
    await client!.publishAsync(`${T}/gpu`, window(3), { qos: 1 });
    await eventually(() => (acks.length > before ? true : undefined));
    expect(latest(acks)).toMatchObject({ watermark: 4 });
    const health = await getJson(`${server!.httpUrl}/api/v1/health`);
    expect(health.delivery.duplicates).toBe(4);

    expect(await server!.stop('SIGINT')).toBe(0);
    const stored = await storedSeqs(dataDir);
    console.log(`[duplicates and reordering] sent seqs 0,2,1,1,4,3,0,2 (+ boot-b 0, + 3 again); stored ${JSON.stringify(stored)}`);
    expect(stored).toEqual([
      ...[0, 1, 2, 3, 4].map((seq) => ({ boot_id: 'boot-a', seq, copies: 1 })),
      { boot_id: 'boot-b', seq: 0, copies: 1 },
    ]);
  });

  it('5. a window that can never be accepted is settled as rejected and does not block the watermark', async () => {
    const { dataDir, acks } = await setup();
    const bad = JSON.parse(windowWithRawPower('min', '-5')) as Record<string, unknown>;
    Object.assign(bad, { boot_id: 'boot-a', seq: 1, first_seq: 0, ts: now() + 1000 });
    await client!.publishAsync(`${T}/gpu`, window(0), { qos: 1 });
    await client!.publishAsync(`${T}/gpu`, JSON.stringify(bad), { qos: 1 });
    await client!.publishAsync(`${T}/gpu`, window(2), { qos: 1 });
    await eventually(() => (latest(acks)?.watermark === 2 ? true : undefined));
    expect(latest(acks)).toEqual({ stream: 'gpu', boot_id: 'boot-a', watermark: 2, ranges: [], rejected: 1 });
    const health = await getJson(`${server!.httpUrl}/api/v1/health`);
    expect(health.rejects.by_reason).toEqual({ negative: 1 });
    expect(health.delivery.rejected_settled).toBe(1);
    expect(await server!.stop('SIGINT')).toBe(0);
    const stored = await storedSeqs(dataDir);
    console.log(`[never acceptable] sent 0, 1 (negative power), 2; ack watermark 2 with 1 rejected; stored ${JSON.stringify(stored)}`);
    expect(stored.map((r) => r.seq)).toEqual([0, 2]);
  });

  it('the job stream is de-duplicated, stored and acknowledged like windows', async () => {
    const { dataDir, acks } = await setup();
    const job = (seq: number, event: 'start' | 'end') =>
      JSON.stringify({ v: 1, boot_id: 'boot-j', seq, first_seq: 0, ts: now(), event, job: '1234+0', user: 'ada', project: 'llm', gpus: ['GPU-aaaa', 'GPU-bbbb'] });
    for (const [seq, ev] of [[0, 'start'], [1, 'end'], [1, 'end'], [0, 'start']] as const) await client!.publishAsync(`${T}/job`, job(seq, ev), { qos: 1 });
    await eventually(() => (acks.flatMap((a) => a.acks).some((e) => e.stream === 'job' && e.watermark === 1) ? true : undefined));
    expect(await server!.stop('SIGINT')).toBe(0);
    const db = await DuckDBInstance.create(join(dataDir, 'kilowatch.duckdb'));
    const conn = await db.connect();
    const rows = (await conn.runAndReadAll('SELECT seq::INT AS seq, event, job, user_name, gpus FROM job_events ORDER BY seq')).getRowObjectsJS();
    conn.closeSync();
    db.closeSync();
    console.log(`[job stream] sent seqs 0,1,1,0; stored ${JSON.stringify(rows)}`);
    expect(rows).toEqual([
      { seq: 0, event: 'start', job: '1234+0', user_name: 'ada', gpus: '["GPU-aaaa","GPU-bbbb"]' },
      { seq: 1, event: 'end', job: '1234+0', user_name: 'ada', gpus: '["GPU-aaaa","GPU-bbbb"]' },
    ]);
  });
});
