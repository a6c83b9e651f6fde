/**
 * snmp-pdu without an agent: the pure parser over the walk fixtures, the
 * profile and connection checks of a pollers entry, and a PDU that never
 * answers. The real-agent test is test/integration/snmpd-pdu.test.ts.
 */
import { createSocket } from 'node:dgram';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type SnmpVarbind, parseSnmpPdu } from '../../../collector/pollers/parse-snmp-pdu.js';
import { createPollers, parsePollersFile } from '../../../collector/pollers/registry.js';
import { type SnmpPduPoller, snmpTargetFromEntry } from '../../../collector/pollers/snmp-pdu.js';
import { APC_RPDU2, SNMP_PROFILES, profileFromEntry } from '../../../collector/pollers/snmp-profiles.js';
import { describeFixtures } from '../../helpers/fixture-suite.js';
import { ROOT } from '../../helpers/kilowatch-process.js';

function parseFixture(text: string) {
  const f = JSON.parse(text) as { profile: string; varbinds: SnmpVarbind[] };
  return parseSnmpPdu(f.varbinds, SNMP_PROFILES[f.profile]!, 'pdu');
}

describeFixtures('parse-snmp-pdu over the walk fixtures', join(ROOT, 'test/fixtures/snmp/walks'), {
  'apc-rpdu2__3-phase-metered-by-outlet__from-mib.json': (text) => {
    const r = parseFixture(text);
    expect(r.problems).toEqual([]);
    expect(r.ignored).toBe(0);
    expect(r.readings).toEqual([
      // 613 hundredths of kW = 6130 W; 325675 tenths of kWh = 32567500 Wh
      { meter: 'pdu/device-1', power_w: 6130, energy_import_wh: 32_567_500, pf: 0.98 },
      { meter: 'pdu/outlet-1', current_a: 4.5, power_w: 1012, energy_import_wh: 8_812_300 },
      { meter: 'pdu/outlet-2', current_a: 0, power_w: 0, energy_import_wh: 0 },
      { meter: 'pdu/phase-1', current_a: 9.2, voltage_v: 230, power_w: 2100, pf: 0.99 },
      { meter: 'pdu/phase-2', current_a: 8.8, voltage_v: 231, power_w: 2020, pf: 0.98 },
      { meter: 'pdu/phase-3', current_a: 8.7, voltage_v: 229, power_w: 2010, pf: 0.98 },
    ]);
    // An empty outlet label is no name.
    expect([...r.names]).toEqual([['pdu/device-1', 'RackA1-PDU-A'], ['pdu/outlet-1', 'gpu-node-01 psu1']]);
  },
  'apc-rpdu2__basic-model-unsupported__from-mib.json': (text) => {
    const r = parseFixture(text);
    // -1 means "not supported": absent, never 0 W. A device with nothing measured is no reading at all.
    expect(r.readings).toEqual([{ meter: 'pdu/phase-1', current_a: 3.1 }]);
    expect(r.problems).toEqual([]);
    expect(r.ignored).toBe(1); // the column OID itself, answered noSuchObject: no row
  },
  'sentry4__pro2-two-cords__from-mib.json': (text) => {
    const r = parseFixture(text);
    expect(r.problems).toEqual([]);
    expect(r.readings).toEqual([
      { meter: 'pdu/cord-1.1', power_w: 888, pf: 0.92, energy_import_wh: 5_307_100 },
      { meter: 'pdu/cord-2.1', power_w: 919, pf: 0.93, energy_import_wh: 6_011_000 },
      { meter: 'pdu/outlet-1.1.1', current_a: 1.23, voltage_v: 230.1, power_w: 270, pf: 0.95, energy_import_wh: 98_765 },
    ]);
  },
});

describe('parse-snmp-pdu', () => {
  const dev = '1.3.6.1.4.1.318.1.1.26.4.3.1';
  const outlet = '1.3.6.1.4.1.318.1.1.26.9.4.3.1';

  it('leaves out only the meter with a bad value, with its reason', () => {
    const r = parseSnmpPdu([
      { oid: `${dev}.5.1`, value: 100 },
      { oid: `${outlet}.7.1`, value: 'n/a' },
      { oid: `${outlet}.11.1`, value: 5 },
      { oid: `${outlet}.7.2`, value: 20 },
      { oid: `${outlet}.11.3`, value: -5 }, // a negative energy counter is impossible
    ], APC_RPDU2, 'p');
    expect(r.readings).toEqual([{ meter: 'p/device-1', power_w: 1000 }, { meter: 'p/outlet-2', power_w: 20 }]);
    expect(r.problems).toEqual([
      { reason: 'bad_value', meter: 'p/outlet-1', detail: 'rPDU2OutletMeteredStatusPower.1 is "n/a"' },
      { reason: 'bad_value', meter: 'p/outlet-3', detail: 'rPDU2OutletMeteredStatusEnergy.3 is -5' },
    ]);
  });

  it('accepts numeric text (a custom map on an OctetString) and counts OIDs outside the profile', () => {
    const made = profileFromEntry({ oids: [{ oid: '1.3.6.1.4.1.99.1.0', field: 'voltage_v', scale: 0.1 }] }, 'test');
    if (!made.ok) throw new Error(made.problems.join('; '));
    const r = parseSnmpPdu([{ oid: '1.3.6.1.4.1.99.1.0', value: '2305' }, { oid: '1.3.6.1.2.1.1.3.0', value: 5 }], made.profile, 'p');
    expect(r.readings).toEqual([{ meter: 'p', voltage_v: 230.5 }]); // no meter named: the poller's own id
    expect(r.ignored).toBe(1);
  });

  it('keeps the power factor within its range', () => {
    const r = parseSnmpPdu([{ oid: `${dev}.17.1`, value: 250 }], APC_RPDU2, 'p');
    expect(r.readings).toEqual([]);
    expect(r.problems[0]?.detail).toBe('rPDU2DeviceStatusPowerFactor.1 is 250');
  });
});

/** Through the pollers file and the registry, as the collector builds it. */
function make(entry: Record<string, unknown>, log: (line: string) => void = () => {}): SnmpPduPoller {
  const parsed = parsePollersFile(JSON.stringify([{ kind: 'snmp-pdu', id: 'pdu', ...entry }]), 'pollers.yaml');
  if (!parsed.ok) throw new Error(parsed.problems.join('\n'));
  return createPollers(parsed.entries, { now: Date.now, log })[0] as SnmpPduPoller;
}

describe('snmp-pdu entries', () => {
  it('lists every problem of a bad entry', () => {
    const parsed = parsePollersFile(JSON.stringify([{ kind: 'snmp-pdu', id: 'x', version: 3, user: { level: 'authPriv', auth_key: 7, pass: 'x' }, profile: 'raritan', max_row: 5 }]), 'pollers.yaml');
    expect(parsed.ok ? [] : parsed.problems).toEqual([
      'pollers.yaml: entry 1 (id "x"): unknown setting "max_row" for kind snmp-pdu (known: kind, id, interval_ms, timeout_ms, host, port, version, community, user, profile, oids, max_rows)',
      'pollers.yaml: entry 1 (id "x"): host is required',
      'pollers.yaml: entry 1 (id "x"): user: pass is not a user setting (known: name, level, auth_protocol, auth_key, priv_protocol, priv_key)',
      'pollers.yaml: entry 1 (id "x"): user: name is required',
      'pollers.yaml: entry 1 (id "x"): user: auth_key must be a non-empty string, got 7',
      'pollers.yaml: entry 1 (id "x"): user: priv_key is required',
      'pollers.yaml: entry 1 (id "x"): profile must be one of apc-rpdu2, sentry4, got "raritan"',
    ]);
  });

  it('needs a profile or an OID map, and checks the map', () => {
    expect(profileFromEntry({}, 'e')).toEqual({ ok: false, problems: ['e: needs a profile (apc-rpdu2, sentry4) or an oids map'] });
    const bad = profileFromEntry({ oids: [{ oid: 'sysUpTime.0', meter: 'a b', field: 'watts', scale: 0 }] }, 'e');
    expect(bad.ok ? [] : bad.problems).toHaveLength(4);
    const both = profileFromEntry({ profile: 'sentry4', oids: [{ oid: '1.3.6.1.4.1.1718.4.1.3.3.1.3.1.2', meter: 'cord-b', field: 'power_w' }] }, 'e');
    expect(both.ok && both.profile.name).toBe('sentry4+custom');
    expect(both.ok && both.profile.tables.length).toBe(2);
  });

  it('defaults to v2c on port 161 with community public, and takes a YAML number 3 as version 3', () => {
    expect(snmpTargetFromEntry({ kind: 'snmp-pdu', id: 'a', host: '10.0.0.5' }, 'e')).toEqual({
      target: { host: '10.0.0.5', port: 161, version: '2c', community: 'public', maxRows: 512 },
      problems: [],
    });
    const v3 = snmpTargetFromEntry({ kind: 'snmp-pdu', id: 'a', host: 'pdu-a1', version: 3, user: { name: 'mon', level: 'authNoPriv', auth_key: 'k', auth_protocol: 'sha256' } }, 'e');
    expect(v3).toEqual({ target: { host: 'pdu-a1', port: 161, version: '3', community: 'public', maxRows: 512, user: { name: 'mon', level: 'authNoPriv', authProtocol: 'sha256', authKey: 'k' } }, problems: [] });
  });
});

describe('snmp-pdu against a PDU that never answers', () => {
  it('times the poll out at its deadline, counts it, and stops at once', async () => {
    const silent = createSocket('udp4');
    let requests = 0;
    silent.on('message', () => (requests += 1));
    await new Promise<void>((r) => silent.bind(0, '127.0.0.1', r));
    const logs: string[] = [];
    const poller = make({ id: 'dead', host: '127.0.0.1', port: silent.address().port, profile: 'apc-rpdu2', interval_ms: 1000, timeout_ms: 300 }, (l) => logs.push(l));
    const got: unknown[] = [];
    poller.start((r) => got.push(r));
    await new Promise((r) => setTimeout(r, 1500));
    const stopping = Date.now();
    await poller.stop();
    expect(Date.now() - stopping).toBeLessThan(500);
    silent.close();
    expect(got).toEqual([]);
    expect(requests).toBeGreaterThan(0);
    const h = poller.health();
    expect(h.polls).toBeGreaterThanOrEqual(1);
    expect(h).toMatchObject({ ok: 0, timeout: h.polls, error: 0 });
    expect(logs).toEqual(['collector pollers: snmp-pdu dead (127.0.0.1): timeout: no answer within 300 ms']);
  });
});
