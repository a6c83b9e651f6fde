/**
 * The redfish poller against a real HTTP(S) server in the test (fake-bmc.ts)
 * serving the DMTF mockup documents: discovery of the Sensor model and of the
 * legacy Power resource, basic and session auth, a self-signed certificate,
 * and the BMCs that must never hold up anything else: one that takes 30 s and
 * one that answers 500.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { MeterReading } from '../../../collector/meters/reading.js';
import { RedfishPoller } from '../../../collector/pollers/redfish.js';
import { type FakeBmc, type FakeBmcOptions, startFakeBmc } from './fake-bmc.js';

const open: { bmcs: FakeBmc[]; pollers: RedfishPoller[] } = { bmcs: [], pollers: [] };
afterEach(async () => {
  await Promise.all(open.pollers.splice(0).map((p) => p.stop()));
  await Promise.all(open.bmcs.splice(0).map((b) => b.close()));
});

async function bmc(opts: FakeBmcOptions): Promise<FakeBmc> {
  const b = await startFakeBmc(opts);
  open.bmcs.push(b);
  return b;
}

function poll(entry: { id: string; [setting: string]: unknown }) {
  const got: { reading: MeterReading; at: number }[] = [];
  const log: string[] = [];
  const poller = new RedfishPoller({ kind: 'redfish', ...entry }, { now: () => Date.now(), log: (l) => log.push(l) });
  open.pollers.push(poller);
  poller.start((reading, at) => got.push({ reading, at }));
  return { poller, got, log, of: (meter: string) => got.filter((g) => g.reading.meter === meter).map((g) => g.reading) };
}

async function until<T>(probe: () => T | undefined | false, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`not reached in ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('redfish poller', () => {
  it('finds the node power and energy sensors through EnvironmentMetrics and the Sensors collection, and follows SensingInterval', async () => {
    const b = await bmc({ model: 'sensors' });
    const t = poll({ id: 'bmc', url: b.url });
    const [first] = await until(() => t.of('bmc').length > 0 && t.of('bmc'));
    expect(first).toEqual({ meter: 'bmc', power_w: 374, pf: 0.99, energy_import_wh: 325_675_000 });
    // PT0.25S is followed, but never faster than once a second.
    expect(t.poller.intervalMs()).toBe(1000);
    expect(t.log).toEqual(['redfish bmc: /redfish/v1/Chassis/1U: reading the Sensor model from /redfish/v1/Chassis/1U/Sensors/TotalPower, /redfish/v1/Chassis/1U/Sensors/TotalEnergy']);
    expect(b.requests.slice(0, 4)).toEqual(['GET /redfish/v1/Chassis', 'GET /redfish/v1/Chassis/1U', 'GET /redfish/v1/Chassis/1U/EnvironmentMetrics', 'GET /redfish/v1/Chassis/1U/Sensors']);
    expect(b.requests).not.toContain('GET /redfish/v1/Chassis/1U/Power');
    expect(t.poller.meters()).toEqual([{ id: 'bmc', kind: 'redfish', name: 'Power reading for the Chassis', supports: { energy_counter: true, instant_power: true } }]);
  });

  it('reads power that changes between polls, with the poll\'s own pace when the entry sets one', async () => {
    const b = await bmc({ model: 'sensors' });
    const t = poll({ id: 'bmc', url: b.url, interval_ms: 250, chassis: '1U' });
    await until(() => t.of('bmc').length > 0);
    b.setPower(512.5);
    await until(() => t.of('bmc').some((r) => r.power_w === 512.5));
    b.setPower(null);
    // A sensor that stops reporting leaves power absent; the energy counter still comes.
    const blank = await until(() => t.of('bmc').find((r) => r.power_w === undefined));
    expect(blank).toEqual({ meter: 'bmc', energy_import_wh: 325_675_000 });
    expect(t.poller.intervalMs()).toBe(250);
    expect(t.got.every((g) => g.reading.power_w !== 0)).toBe(true);
    expect(b.requests).not.toContain('GET /redfish/v1/Chassis');
  });

  it('reads the legacy Power resource when the chassis has nothing newer: PowerControl and each supply as its own meter', async () => {
    const b = await bmc({ model: 'legacy' });
    const t = poll({ id: 'n1', url: b.url, interval_ms: 250 });
    await until(() => t.of('n1/psu-0').length > 0);
    expect(t.of('n1')[0]).toEqual({ meter: 'n1', power_w: 344 });
    expect(t.of('n1/psu-0')[0]).toEqual({ meter: 'n1/psu-0', power_w: 325, voltage_v: 120 });
    expect(t.poller.meters().map((m) => [m.id, m.supports.instant_power])).toEqual([['n1', true], ['n1/psu-0', true]]);
    // A node whose PowerControl stops reporting has no power reading (not 0 W); its supply still reads.
    b.setPower(null);
    const mark = Date.now();
    await until(() => t.got.filter((g) => g.at > mark && g.reading.meter === 'n1/psu-0').length >= 2);
    const lastPoll = t.got.at(-1)!.at;
    expect(t.got.filter((g) => g.at === lastPoll).map((g) => g.reading)).toEqual([{ meter: 'n1/psu-0', power_w: 325, voltage_v: 120 }]);
    expect(t.got.every((g) => g.reading.power_w !== 0)).toBe(true);
    // Without interval_ms and without a SensingInterval, the pace is the default.
    const n2 = poll({ id: 'n2', url: b.url });
    await until(() => n2.got.length > 0);
    expect(n2.poller.intervalMs()).toBe(5000);
  });

  it('sends basic auth, and counts a refused login as an error', async () => {
    const b = await bmc({ model: 'sensors', auth: { kind: 'basic', username: 'monitor', password: 's3cret' } });
    const ok = poll({ id: 'good', url: b.url, username: 'monitor', password: 's3cret' });
    const bad = poll({ id: 'bad', url: b.url, username: 'monitor', password: 'wrong', interval_ms: 250 });
    await until(() => ok.of('good').length > 0);
    await until(() => bad.poller.health().error! >= 2);
    expect(bad.got).toEqual([]);
    expect(bad.log).toEqual(['redfish bad: poll failed: GET /redfish/v1/Chassis: HTTP 401: authentication required']);
  });

  it('logs in with a session, logs in again when the BMC ends it, and deletes it at stop', async () => {
    const b = await bmc({ model: 'legacy', auth: { kind: 'session', username: 'monitor', password: 's3cret' } });
    const t = poll({ id: 'n1', url: b.url, auth: 'session', username: 'monitor', password: 's3cret', interval_ms: 250 });
    await until(() => t.of('n1').length > 0);
    b.expireSessions();
    const before = t.of('n1').length;
    await until(() => t.of('n1').length > before + 1);
    expect(b.requests.filter((r) => r.startsWith('POST /redfish/v1/SessionService/Sessions'))).toHaveLength(2);
    expect(t.poller.health()).toMatchObject({ error: 0 });
    await t.poller.stop();
    expect(b.requests.at(-1)).toMatch(/^DELETE \/redfish\/v1\/SessionService\/Sessions\/token-/);
  });

  it('accepts a self-signed certificate only when the entry says insecure_tls', async () => {
    const b = await bmc({ model: 'legacy', tls: true });
    const trusting = poll({ id: 'trusting', url: b.url, insecure_tls: true });
    const strict = poll({ id: 'strict', url: b.url, interval_ms: 250 });
    await until(() => trusting.of('trusting').length > 0);
    await until(() => strict.poller.health().error! >= 1);
    expect(strict.got).toEqual([]);
    expect(strict.log[0]).toMatch(/^redfish strict: poll failed: .*self[- ]signed certificate/);
  });

  it('drops its plan when a resource disappears (404) and discovers again', async () => {
    const b = await bmc({ model: 'sensors' });
    const t = poll({ id: 'gone', url: b.url, interval_ms: 250, power_sensor: '/redfish/v1/Chassis/1U/Sensors/Removed', energy_sensor: '/redfish/v1/Chassis/1U/Sensors/AlsoRemoved' });
    await until(() => t.poller.health().discoveries! >= 3);
    expect(t.poller.health()).toMatchObject({ error: expect.any(Number), ok: 0 });
    expect(t.got).toEqual([]);
  });
});

describe('redfish: a slow or failing BMC never delays the others', () => {
  it('abandons a BMC that takes 30 s at the deadline, counts a 500, and the healthy BMC keeps its pace', async () => {
    const [healthy, slow, failing] = await Promise.all([bmc({ model: 'legacy' }), bmc({ model: 'legacy', delayMs: 30_000 }), bmc({ model: 'legacy', status: 500 })]);
    const h = poll({ id: 'healthy', url: healthy.url, interval_ms: 250, timeout_ms: 300 });
    const s = poll({ id: 'slow', url: slow.url, interval_ms: 250, timeout_ms: 300 });
    const f = poll({ id: 'failing', url: failing.url, interval_ms: 250, timeout_ms: 300 });
    const began = Date.now();
    // The slow BMC's discovery gets three deadlines (900 ms), then each poll one (300 ms).
    await until(() => s.poller.health().timeout! >= 3 && f.poller.health().error! >= 3, 10_000);
    const elapsed = Date.now() - began;
    expect(s.got).toEqual([]);
    expect(f.got).toEqual([]);
    expect(s.log[0]).toBe('redfish slow: poll timed out: no answer within 900 ms');
    expect(f.log[0]).toBe('redfish failing: poll failed: GET /redfish/v1/Chassis: HTTP 500: A general error has occurred.');
    // Every 250 ms one reading of the node: nothing waited on the slow BMC's 30 s.
    const node = h.got.filter((g) => g.reading.meter === 'healthy');
    expect(node.length).toBeGreaterThanOrEqual(Math.floor(elapsed / 250) - 2);
    const gaps = node.slice(1).map((g, i) => g.at - node[i]!.at);
    expect(Math.max(...gaps)).toBeLessThan(600);
    const stopping = Date.now();
    await Promise.all([s.poller.stop(), f.poller.stop(), h.poller.stop()]);
    expect(Date.now() - stopping).toBeLessThan(1000);
  });
});
