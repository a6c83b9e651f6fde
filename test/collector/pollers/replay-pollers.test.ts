/**
 * --replay of the pollers' input: a Redfish resource (the DMTF mockup
 * fixtures) and the text of `ipmitool dcmi power reading` (the replayed
 * outputs) become meter windows the server's validator accepts, or a reason.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type ReplayInput, replay } from '../../../collector/replay.js';
import { SHARED_FIXTURES } from '../../helpers/fixture-suite.js';
import { IPMI_FIXTURES } from './fake-ipmitool.js';

const base = { prefix: 'kilowatch/v1', site: 's', host: 'h', now: 1_764_000_000_500, windowMs: 1000 };
const run = (kind: string, text: string) => replay({ ...base, kind, text } as ReplayInput);
const windows = (r: ReturnType<typeof replay>) => (r.ok ? r.messages.map((m) => [m.topic, m.payload as any]) : r.error);
const redfish = (name: string) => readFileSync(join(SHARED_FIXTURES, 'redfish', `dmtf-mockup__public-rackmount1__Chassis-1U-${name}.json`), 'utf8');

describe('--replay redfish', () => {
  it('turns every mockup document into valid meter windows', () => {
    for (const file of readdirSync(join(SHARED_FIXTURES, 'redfish'))) {
      const r = run('redfish', readFileSync(join(SHARED_FIXTURES, 'redfish', file), 'utf8'));
      expect(r.ok ? 'ok' : r.error, file).toBe('ok');
    }
  });

  it('reads the legacy Power resource as the node and its supply', () => {
    expect(windows(run('redfish', redfish('Power-legacy')))).toEqual([
      ['kilowatch/v1/s/h/meter/redfish', expect.objectContaining({ ts: 1_764_000_000_000, power_w: { min: 344, max: 344, mean: 344, last: 344, n: 1 } })],
      ['kilowatch/v1/s/h/meter/redfish%2Fpsu-0', expect.objectContaining({ power_w: expect.objectContaining({ last: 325 }), voltage_v: expect.objectContaining({ last: 120 }) })],
    ]);
  });

  it('reads the energy sensor as a counter in Wh', () => {
    expect(windows(run('redfish', redfish('Sensors-TotalEnergy')))).toEqual([['kilowatch/v1/s/h/meter/redfish', expect.objectContaining({ energy_import_wh: 325_675_000 })]]);
  });

  it('says why a document cannot be replayed', () => {
    expect(run('redfish', '{"@odata.type": "#Thermal.v1_7_0.Thermal"}')).toMatchObject({ ok: false, error: expect.stringMatching(/^redfish: unknown_topic: /) });
    expect(run('redfish', 'not json')).toMatchObject({ ok: false, error: expect.stringMatching(/^redfish: the input is not JSON/) });
    expect(run('redfish', '{"@odata.type": "#Sensor.v1_6_0.Sensor", "ReadingType": "Power", "Reading": null}')).toEqual({ ok: false, error: 'redfish: the resource carries no power or energy reading right now' });
  });
});

describe('--replay ipmi-dcmi', () => {
  it('turns an activated reading into a meter window', () => {
    expect(windows(run('ipmi-dcmi', readFileSync(join(IPMI_FIXTURES, 'activated.txt'), 'utf8')))).toEqual([
      ['kilowatch/v1/s/h/meter/ipmi-dcmi', { v: 1, boot_id: 'replay', seq: 0, first_seq: 0, ts: 1_764_000_000_000, window_ms: 1000, power_w: { min: 245, max: 245, mean: 245, last: 245, n: 1 } }],
    ]);
  });

  it('refuses a deactivated reading with its reason', () => {
    expect(run('ipmi-dcmi', readFileSync(join(IPMI_FIXTURES, 'deactivated.txt'), 'utf8'))).toEqual({
      ok: false, error: 'ipmi-dcmi: deactivated: the BMC says its power reading state is deactivated (not measuring)',
    });
  });
});
