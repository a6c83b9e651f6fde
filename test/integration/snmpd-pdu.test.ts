/**
 * The snmp-pdu poller against a real snmpd (Debian's package) that serves the
 * built-in profiles' OIDs through pass_persist, with values the test changes
 * between polls. What is checked is what the collector publishes: the
 * readings go through MeterWindows exactly as the collector windows them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MeterReading } from '../../collector/meters/reading.js';
import { MeterWindows } from '../../collector/meters/meter-windows.js';
import { createPollers, parsePollersFile } from '../../collector/pollers/registry.js';
import type { SnmpPduPoller } from '../../collector/pollers/snmp-pdu.js';
import { type OidState, SNMPD_COMMUNITY, SNMPD_V3_USER, type Snmpd, startSnmpd } from '../helpers/snmpd.js';

const APC = '1.3.6.1.4.1.318.1.1.26';
const ST4 = '1.3.6.1.4.1.1718.4.1';

let agent: Snmpd;
const logs: string[] = [];
const deps = { now: () => Date.now(), log: (l: string) => logs.push(l) };

/** Built through the pollers file and the registry, as the collector builds it. */
function poller(settings: Record<string, unknown>): SnmpPduPoller {
  const entry = { kind: 'snmp-pdu', id: 'pdu', host: '127.0.0.1', port: agent.port, ...(settings.version === undefined && { community: SNMPD_COMMUNITY }), ...settings };
  const parsed = parsePollersFile(JSON.stringify([entry]), 'pollers.yaml');
  if (!parsed.ok) throw new Error(parsed.problems.join('\n'));
  return createPollers(parsed.entries, deps)[0] as SnmpPduPoller;
}

/** One rPDU2 device, two phases and two outlets, as PowerNet-MIB states them (hundredths of kW, tenths of kWh, ...). */
function apcState(step: { powerHundredthsKw: number; energyTenthsKwh: number }): OidState {
  return {
    [`${APC}.4.3.1.3.1`]: ['string', 'rack A1 feed A'],
    [`${APC}.4.3.1.5.1`]: ['integer', step.powerHundredthsKw],
    [`${APC}.4.3.1.9.1`]: ['integer', step.energyTenthsKwh],
    [`${APC}.4.3.1.17.1`]: ['integer', 97],
    [`${APC}.6.3.1.5.1`]: ['integer', 52],
    [`${APC}.6.3.1.6.1`]: ['integer', 231],
    [`${APC}.6.3.1.7.1`]: ['integer', 120],
    [`${APC}.6.3.1.9.1`]: ['integer', -1], // "Models that do not support this feature will respond ... -1"
    [`${APC}.9.4.3.1.3.1`]: ['string', 'gpu-node-01'],
    [`${APC}.9.4.3.1.6.1`]: ['integer', 13],
    [`${APC}.9.4.3.1.7.1`]: ['integer', 301],
    [`${APC}.9.4.3.1.11.1`]: ['integer', 1234],
    [`${APC}.9.4.3.1.6.2`]: ['integer', 0],
    [`${APC}.9.4.3.1.7.2`]: ['integer', 0],
    [`${APC}.9.4.3.1.11.2`]: ['integer', 7],
  };
}

beforeAll(async () => {
  agent = await startSnmpd({ subtrees: [APC, ST4] });
});

afterAll(async () => {
  await agent?.stop();
});

describe('snmp-pdu against snmpd', () => {
  it('publishes the APC rPDU2 values in W, Wh, V, A as they change, and the energy counter adds up to power x time', async () => {
    // The stand-in PDU integrates its own power: each step is one simulated hour at the step's power,
    // so the counter (tenths of kWh) must grow by exactly the step's watts x 1 h.
    const watts = [1200, 2500, 3100, 800];
    let energyTenths = 45678;
    const steps = watts.map((w, i) => {
      if (i > 0) energyTenths += (watts[i - 1]! * 1) / 100; // W x 1 h = Wh; 100 Wh = 0.1 kWh
      return { powerHundredthsKw: w / 10, energyTenthsKwh: energyTenths };
    });
    agent.setState(apcState(steps[0]!));
    const p = poller({ profile: 'apc-rpdu2', interval_ms: 1500, timeout_ms: 1000 });
    const windows = new MeterWindows(1000);
    const device: MeterReading[] = [];
    const all: MeterReading[] = [];
    let step = 0;
    const done = new Promise<void>((resolve) => {
      p.start((r, atMs) => {
        all.push(r);
        windows.add(r, atMs);
        if (r.meter !== 'pdu/device-1') return;
        device.push(r);
        // The device is the first table walked and emitted: the next poll sees the next step.
        if (++step < steps.length) agent.setState(apcState(steps[step]!));
        else resolve();
      });
    });
    await done;
    await p.stop();

    expect(device.map((r) => r.power_w)).toEqual(watts);
    expect(device.map((r) => r.energy_import_wh)).toEqual(steps.map((s) => s.energyTenthsKwh * 100));
    expect(device[0]!.pf).toBe(0.97);
    const first = all.slice(0, 4);
    expect(first).toContainEqual({ meter: 'pdu/phase-1', current_a: 5.2, voltage_v: 231, power_w: 1200 }); // pf -1: absent, not 0
    expect(first).toContainEqual({ meter: 'pdu/outlet-1', current_a: 1.3, power_w: 301, energy_import_wh: 123400 });
    expect(first).toContainEqual({ meter: 'pdu/outlet-2', current_a: 0, power_w: 0, energy_import_wh: 700 });
    expect(p.meters().find((m) => m.id === 'pdu/outlet-1')).toEqual({ id: 'pdu/outlet-1', kind: 'snmp-pdu', name: 'gpu-node-01', supports: { energy_counter: true, instant_power: true } });

    // Published windows: one per poll (1.5 s apart, 1 s windows), each with the step's power and counter.
    const published = windows.takeAll().filter((w) => w.meter === 'pdu/device-1').map((w) => w.body);
    expect(published.map((b) => b.power_w?.last)).toEqual(watts);
    const energyDeltas = published.slice(1).map((b, i) => b.energy_import_wh! - published[i]!.energy_import_wh!);
    expect(energyDeltas).toEqual(watts.slice(0, -1).map((w) => w * 1)); // Wh = W x 1 h
    expect(p.health()).toMatchObject({ ok: 4, timeout: 0, error: 0, bad_value: 0 });
  });

  it('reads the same over SNMPv3 (authPriv, SHA and AES)', async () => {
    agent.setState(apcState({ powerHundredthsKw: 456, energyTenthsKwh: 1000 }));
    const u = SNMPD_V3_USER;
    const p = poller({
      profile: 'apc-rpdu2', version: '3',
      user: { name: u.name, level: 'authPriv', auth_protocol: u.authProtocol, auth_key: u.authKey, priv_protocol: u.privProtocol, priv_key: u.privKey },
    });
    const vbs = await p.pollOnce(new AbortController().signal);
    await p.stop();
    expect(vbs).toContainEqual({ oid: `${APC}.4.3.1.5.1`, value: 456 });
    expect(vbs).toContainEqual({ oid: `${APC}.9.4.3.1.3.1`, value: 'gpu-node-01' });
  });

  it('reads ServerTech Sentry4 input cords (W, tenth kWh) and outlets (W, Wh, tenth V, hundredth A)', async () => {
    agent.setState({
      [`${ST4}.3.3.1.3.1.1`]: ['integer', 888],
      [`${ST4}.3.3.1.8.1.1`]: ['integer', 92],
      [`${ST4}.3.3.1.10.1.1`]: ['integer', 53071],
      [`${ST4}.8.3.1.3.1.1.4`]: ['integer', 123],
      [`${ST4}.8.3.1.6.1.1.4`]: ['integer', 2301],
      [`${ST4}.8.3.1.7.1.1.4`]: ['integer', 270],
      [`${ST4}.8.3.1.10.1.1.4`]: ['integer', -1],
      [`${ST4}.8.3.1.14.1.1.4`]: ['integer', 98765],
    });
    const p = poller({ profile: 'sentry4' });
    const got: MeterReading[] = [];
    await new Promise<void>((resolve) => p.start((r) => (got.push(r), got.length === 2 && resolve())));
    await p.stop();
    expect(got).toEqual([
      { meter: 'pdu/cord-1.1', power_w: 888, pf: 0.92, energy_import_wh: 5307100 },
      { meter: 'pdu/outlet-1.1.4', current_a: 1.23, voltage_v: 230.1, power_w: 270, energy_import_wh: 98765 },
    ]);
  });

  it('reads a custom OID map from config', async () => {
    agent.setState({ [`${APC}.4.3.1.5.1`]: ['integer', 77], [`${APC}.4.3.1.9.1`]: ['integer', 12] });
    const p = poller({
      oids: [
        { oid: `${APC}.4.3.1.5.1`, meter: 'inlet', field: 'power_w', scale: 10 },
        { oid: `.${APC}.4.3.1.9.1`, meter: 'inlet', field: 'energy_import_wh', scale: 100 },
        { oid: `${APC}.4.3.1.5.9`, meter: 'missing', field: 'power_w' },
      ],
    });
    const got: MeterReading[] = [];
    await new Promise<void>((resolve) => p.start((r) => (got.push(r), resolve())));
    await p.stop();
    expect(got).toEqual([{ meter: 'pdu/inlet', power_w: 770, energy_import_wh: 1200 }]);
  });

  it('times out and counts a poll the agent never answers (a wrong community is dropped silently)', async () => {
    const p = poller({ profile: 'apc-rpdu2', community: 'not-the-community', interval_ms: 1000, timeout_ms: 400 });
    const got: MeterReading[] = [];
    p.start((r) => got.push(r));
    await new Promise((r) => setTimeout(r, 1700));
    await p.stop();
    expect(got).toEqual([]);
    expect(p.health().timeout).toBeGreaterThanOrEqual(1);
    expect(p.health().ok).toBe(0);
    expect(logs.some((l) => l.includes('snmp-pdu pdu (127.0.0.1): timeout'))).toBe(true);
  });
});
