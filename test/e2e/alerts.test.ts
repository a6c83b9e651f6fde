/**
 * Alerts end to end: a 300 ms spike to 130 % of the power limit inside one
 * 1 s window goes collector (NVML stand-in, 10 Hz samples) -> server ->
 * the threshold rule -> a webhook receiver and a WebSocket client, and the
 * retained MQTT state. A webhook that answers after 10 s and one that is
 * down sit beside the good one: neither delays the good one nor ingest,
 * and their failures are counted in health.
 *
 * The delay a spike can have before it is seen: its window must close
 * first, so up to one window length (1 s here) plus the publish offset.
 * The test prints the measured delay; `npm run bench` measures latency.
 */
import { writeFileSync } from 'node:fs';
import { type IncomingMessage, type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { type KilowatchProcess, eventually, getJson, startKilowatch, tempDir } from '../helpers/kilowatch-process.js';
import { buildNvmlStub } from '../helpers/nvml-stub.js';

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** An HTTP receiver that records JSON bodies; `delayMs` holds each answer that long. */
async function receiver(delayMs = 0): Promise<{ url: string; bodies: { at: number; body: any }[] }> {
  const bodies: { at: number; body: any }[] = [];
  const server: Server = createServer((req: IncomingMessage, res) => {
    let text = '';
    req.on('data', (d) => (text += d));
    req.on('end', () => {
      bodies.push({ at: Date.now(), body: JSON.parse(text) });
      setTimeout(() => res.writeHead(200).end('ok'), delayMs).unref();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise((r) => server.closeAllConnections() ?? server.close(r)));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, bodies };
}

describe('alerts, end to end', () => {
  it('a 300 ms spike to 130 % fires the threshold rule through collector, server, webhook, WebSocket and MQTT; slow and dead webhooks hold nothing up', async () => {
    const stub = buildNvmlStub();
    const dataDir = tempDir('alerts');
    const good = await receiver();
    const slack = await receiver();
    const slow = await receiver(10_000);
    const rules = join(dataDir, 'rules.yaml');
    writeFileSync(rules, `
webhooks:
  - { url: "${slow.url}", format: json, timeout_s: 2 }
  - { url: "http://127.0.0.1:9/down", format: json, timeout_s: 2 }
  - { url: "${good.url}", format: json }
  - { url: "${slack.url}", format: slack }
rules:
  - { id: spike, type: threshold, target: { kind: gpu }, metric: power_pct_limit, above: 110, clear: 100, severity: critical }
`);
    // In the middle of a window, a few seconds after start: 910 W is 130 % of the stand-in's 700 W limit.
    const spikeAt = Math.floor(Date.now() / 1000) * 1000 + 6350;
    const kw: KilowatchProcess = await startKilowatch(
      ['all', '--source', 'nvml', '--host-id', 'stub-host', '--port', '0', '--mqtt-port', '0', '--data-dir', dataDir, '--alert-rules', rules],
      /kilowatch: open http/, 20_000, { LD_LIBRARY_PATH: stub.dir, KW_NVML_STUB_GPUS: '2', KW_NVML_STUB_SPIKE_MS: `${spikeAt}:300:910:1` },
    );
    cleanups.push(() => kw.stop('SIGKILL'));

    const frames: any[] = [];
    const ws = new WebSocket(`${kw.httpUrl!.replace('http', 'ws')}/api/v1/live`);
    cleanups.push(() => ws.terminate());
    ws.on('message', (d) => frames.push({ at: Date.now(), msg: JSON.parse(d.toString()) }));
    await new Promise((r) => ws.once('open', r));
    ws.send(JSON.stringify({ type: 'subscribe', view: 'alerts' }));
    const retained: { topic: string; payload: string }[] = [];
    const sub = await mqtt.connectAsync(kw.brokerUrl!);
    cleanups.push(() => sub.endAsync());
    sub.on('message', (topic, payload) => retained.push({ topic, payload: payload.toString() }));
    await sub.subscribeAsync('kilowatch/v1/_alerts/#');

    const hook = await eventually(() => good.bodies.find((b) => b.body.status === 'firing'), 20_000);
    expect(hook.body).toMatchObject({ source: 'kilowatch', rule: 'spike', severity: 'critical', key: expect.stringMatching(/^spike\|gpu:local\/stub-host\/GPU-/) });
    expect(hook.body.value).toBeGreaterThan(125); // the window max: the 300 ms spike, not the window mean
    expect(hook.body.value).toBeLessThan(135);
    const windowEnd = Math.floor(spikeAt / 1000) * 1000 + 1000;
    expect(hook.body.at).toBe(windowEnd);
    const wsFrame = await eventually(() => frames.find((f) => f.msg.type === 'alert' && f.msg.event.to === 'firing'));
    expect(wsFrame.msg.active).toMatchObject({ rule: 'spike', state: 'firing' });
    console.log(`[alerts] spike at ${spikeAt}, its window closed at ${windowEnd}: webhook after ${hook.at - spikeAt} ms, WebSocket after ${wsFrame.at - spikeAt} ms (bound: one window, 1000 ms, plus publish and transport)`);
    const slackBody = await eventually(() => slack.bodies.find((b) => /FIRING/.test(b.body.text)));
    expect(slackBody.body.text).toMatch(/spike \(critical\).*130|spike \(critical\).*12\d/);
    const state = await eventually(() => retained.find((r) => r.payload !== '' && r.topic.startsWith('kilowatch/v1/_alerts/spike/gpu:local%2Fstub-host%2FGPU-')));
    expect(JSON.parse(state.payload)).toMatchObject({ v: 1, rule: 'spike', target: expect.stringMatching(/^gpu:local\/stub-host\/GPU-/), state: 'firing', field: 'power_pct_limit', threshold: 110, severity: 'critical' });

    // The spike ends, the next window clears it: the resolution reaches the good webhook and clears the retained state.
    await eventually(() => good.bodies.find((b) => b.body.status === 'resolved'), 10_000);
    await eventually(() => retained.find((r) => r.topic === state.topic && r.payload === ''), 10_000);
    // Meanwhile ingest went on, and the slow and dead webhooks' failures are counted.
    const health = await eventually(async () => {
      const h = await getJson(`${kw.httpUrl}/api/v1/health`);
      const hooks = h.alerts.webhooks as { url: string; failed_attempts: number; sent: number }[];
      return hooks.find((x) => x.url.startsWith(slow.url))!.failed_attempts >= 2 && hooks.find((x) => x.url.includes(':9/'))!.failed_attempts >= 2 ? h : undefined;
    }, 15_000);
    expect(health.alerts.webhooks.find((x: any) => x.url === good.url)).toMatchObject({ sent: 2, failed_attempts: 0 });
    expect(health.alerts.webhooks.find((x: any) => x.url.includes(':9/')).last_error).toMatch(/127\.0\.0\.1:9/);
    expect(slow.bodies.length).toBeGreaterThanOrEqual(1); // it was asked, and gave no answer in time
    const before = health.ingest.windows;
    await new Promise((r) => setTimeout(r, 2000));
    expect((await getJson(`${kw.httpUrl}/api/v1/health`)).ingest.windows).toBeGreaterThan(before);
    // The history holds every transition, with the value that caused it.
    const alerts = await getJson(`${kw.httpUrl}/api/v1/alerts`);
    expect(alerts.history.map((e: any) => e.to)).toEqual(expect.arrayContaining(['pending', 'firing', 'resolved']));
    expect(alerts.active).toEqual([]);
  }, 60_000);
});
