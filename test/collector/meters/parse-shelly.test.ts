/**
 * The Shelly parser over every captured fixture in
 * ../shared/fixtures/meters/shelly (a fixture without a check here fails, so
 * a new capture gets assertions), plus inline edge cases. Expected values
 * were read from the files by hand.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseShelly } from '../../../collector/meters/parse-shelly.js';
import type { MeterParseResult, MeterReading } from '../../../collector/meters/reading.js';
import { ROOT } from '../../helpers/kilowatch-process.js';
import { describeFixtures } from '../../helpers/fixture-suite.js';

const DIR = join(ROOT, '..', 'shared', 'fixtures', 'meters', 'shelly');
type Dump = { settings?: any; config?: any; status: any };
const dump = (file: string): Dump => JSON.parse(readFileSync(join(DIR, file), 'utf8')) as Dump;

function only(result: MeterParseResult): MeterReading {
  expect(result.ok).toBe(true);
  if (!result.ok) throw new Error(result.detail);
  expect(result.readings).toHaveLength(1);
  return result.readings[0]!;
}

/** Gen1 Plug S HTTP dump: meters[0] is what relay/0/power and relay/0/energy publish. */
function checkGen1PlugS(file: string) {
  const d = dump(file);
  const id: string = d.settings.mqtt.id; // "shellyplug-s-DDEEFF"
  const meter = d.status.meters[0];
  expect(only(parseShelly(`shellies/${id}/relay/0/power`, String(meter.power)))).toEqual({ meter: `${id}:relay:0`, power_w: 0 });
  // total 2632 watt-minutes / 60 = 43.8667 Wh.
  const energy = only(parseShelly(`shellies/${id}/relay/0/energy`, String(meter.total)));
  expect(energy.meter).toBe('shellyplug-s-DDEEFF:relay:0');
  expect(energy.energy_import_wh).toBeCloseTo(2632 / 60, 9);
  expect(Object.keys(energy).sort()).toEqual(['energy_import_wh', 'meter']);
}

function checkPlusPlugS(file: string) {
  const d = dump(file);
  const prefix: string = d.config.mqtt.topic_prefix; // "shellyplusplugs-aabbccddeeff"
  const r = only(parseShelly(`${prefix}/status/switch:0`, JSON.stringify(d.status['switch:0'])));
  // apower 2.7 W, aenergy.total 7258.589 Wh (by_minute is mWh per minute: not a counter, ignored).
  expect(r).toEqual({ meter: 'shellyplusplugs-aabbccddeeff:switch:0', power_w: 2.7, voltage_v: 227.9, current_a: 0.121, energy_import_wh: 7258.589 });
}

function checkPro3em(file: string) {
  const d = dump(file);
  const prefix: string = d.config.mqtt.topic_prefix;
  const meter = 'shellypro3em-aabbccddeeff:em:0';
  const power = only(parseShelly(`${prefix}/status/em:0`, JSON.stringify(d.status['em:0'])));
  // total_act_power 558.965 W; n_current is null on this device: absent, not 0. total_current
  // (3.856 A, a sum of phase currents) is deliberately not a meter-level current.
  expect(power).toEqual({
    meter,
    power_w: 558.965,
    phases: [
      { phase: 'a', power_w: 375.5, voltage_v: 229.0, current_a: 2.392, pf: 0.76 },
      { phase: 'b', power_w: 170.8, voltage_v: 229.0, current_a: 1.037, pf: 0.78 },
      { phase: 'c', power_w: 12.7, voltage_v: 229.2, current_a: 0.428, pf: 0.53 },
    ],
  });
  const energy = only(parseShelly(`${prefix}/status/emdata:0`, JSON.stringify(d.status['emdata:0'])));
  expect(energy).toEqual({
    meter, // emdata:0 is the energy of em:0: the same meter
    energy_import_wh: 2589773.39,
    energy_export_wh: 1026.61,
    phases: [
      { phase: 'a', energy_import_wh: 2034616.71, energy_export_wh: 0 },
      { phase: 'b', energy_import_wh: 185686.89, energy_export_wh: 40.7 },
      { phase: 'c', energy_import_wh: 369469.8, energy_export_wh: 985.91 },
    ],
  });
  // The same objects inside a NotifyStatus, stamped with the device clock (sys.unixtime 1707326927).
  const rpc = JSON.stringify({ src: prefix, method: 'NotifyStatus', params: { ts: d.status.sys.unixtime, 'em:0': d.status['em:0'], 'emdata:0': d.status['emdata:0'] } });
  const res = parseShelly(`${prefix}/events/rpc`, rpc);
  expect(res).toEqual({ ok: true, readings: [{ ...power, ts: 1707326927000 }, { ...energy, ts: 1707326927000 }] });
}

const plus = 'shellies/plus1pm:switch:0';
const em3 = (n: number, v: Partial<MeterReading>) => ({ meter: `shellies/shellyem3:emeter:${n}`, ...v });
/** Every reading the capture yields, in order; all other lines yield none. */
const CAPTURE_READINGS: MeterReading[] = [
  { meter: plus, ts: 1661517385440, voltage_v: 232.7 }, // NotifyStatus delta with only voltage
  { meter: plus, power_w: 0, voltage_v: 232.7, current_a: 0, energy_import_wh: 0 },
  // the temperature-only and sys deltas give nothing
  { meter: plus, power_w: 0, voltage_v: 232.7, current_a: 0, energy_import_wh: 0 },
  { meter: plus, ts: 1661517421440, energy_import_wh: 0 }, // NotifyStatus delta with only aenergy
  { meter: plus, power_w: 0, voltage_v: 232.8, current_a: 0, energy_import_wh: 0 },
  // the output/source delta gives nothing
  { meter: plus, power_w: 0, voltage_v: 232.6, current_a: 0, energy_import_wh: 0 },
  ...[230.35, 0.12, 0.09].flatMap((voltage_v, n) => [
    em3(n, { power_w: 0 }),
    em3(n, { pf: 0 }),
    em3(n, { current_a: 0.01 }),
    em3(n, { voltage_v }),
    em3(n, { energy_import_wh: 0 }),
    em3(n, { energy_export_wh: 0 }),
  ]),
];

function checkCapture(file: string) {
  const labels = new Set(['shelly 1', 'shelly 1pm', 'shelly em3']);
  const lines = readFileSync(join(DIR, file), 'utf8').split('\n');
  const messages = lines.filter((l) => l.trim() !== '' && !labels.has(l.trim()));
  expect(messages).toHaveLength(lines.filter((l) => l.trim() !== '').length - 3);
  const all: MeterReading[] = [];
  for (const line of messages) {
    const space = line.indexOf(' ');
    const result = parseShelly(line.slice(0, space), line.slice(space + 1));
    expect(result, line).toMatchObject({ ok: true });
    if (result.ok) all.push(...result.readings);
  }
  expect(all).toEqual(CAPTURE_READINGS);
  // The first NotifyStatus is stamped ts 1.61 (seconds since boot, before SNTP): no usable timestamp.
  const early = messages.find((l) => l.includes('"ts":1.61'))!;
  expect(early).toBeDefined();
  const withSwitch = early.slice(early.indexOf(' ') + 1).replace('"mqtt":{"connected":true}', '"switch:0":{"id":0,"apower":12.5}');
  expect(parseShelly('shellies/plus1pm/events/rpc', withSwitch)).toEqual({ ok: true, readings: [{ meter: plus, power_w: 12.5 }] });
}

const CHECKS: Record<string, (file: string) => void> = {
  'aioshelly-fixture__gen1_Shelly_Plug_S_SHPLG-S_20230913-113421-v1.14.0-gcb84623.json': checkGen1PlugS,
  'aioshelly-fixture__gen2_Shelly_Plus_Plug_S_SNPL-00112EU_20231219-134003-1.1.0-g34b5d4f.json': checkPlusPlugS,
  'aioshelly-fixture__gen2_Shelly_Pro_3EM_SPEM-003CEBEU_20231219-134001-1.1.0-g34b5d4f.json': checkPro3em,
  'go-mqtt-to-influx__captured-mqtt-traffic__gen1-shelly1__gen2-plus1pm__gen1-shellyem3.txt': checkCapture,
};

describeFixtures('parseShelly over the captured fixtures', DIR, Object.fromEntries(Object.entries(CHECKS).map(([file, check]) => [file, () => check(file)])));

describe('parseShelly edge cases', () => {
  it('reports an unmetered switch (Plus 1) as unmetered, never as 0 W', () => {
    const res = parseShelly('shellyplus1-a8032ab12345/status/switch:0', '{"id":0,"source":"init","output":true,"temperature":{"tC":41.2,"tF":106.2}}');
    expect(res).toMatchObject({ ok: false, reason: 'unmetered' });
  });

  it('keeps negative (export) power on a bidirectional Pro 3EM and Gen1 3EM', () => {
    const em = { id: 0, a_act_power: -1520.3, b_act_power: -12.5, c_act_power: 80, total_act_power: -1452.8 };
    const r = only(parseShelly('pro3em/status/em:0', JSON.stringify(em)));
    expect(r.power_w).toBe(-1452.8);
    expect(r.phases?.map((p) => p.power_w)).toEqual([-1520.3, -12.5, 80]);
    expect(only(parseShelly('shellies/shellyem3-1/emeter/0/power', '-812.40')).power_w).toBe(-812.4);
  });

  it('rejects NaN and text as bad_value, malformed JSON as invalid_json', () => {
    expect(parseShelly('shellies/shellyplug-s-1/relay/0/power', 'nan')).toMatchObject({ ok: false, reason: 'bad_value' });
    expect(parseShelly('shellies/shellyem3-1/emeter/1/total', '')).toMatchObject({ ok: false, reason: 'bad_value' });
    expect(parseShelly('p/status/switch:0', '{"id":0,"apower":"NaN"}')).toMatchObject({ ok: false, reason: 'bad_value' });
    expect(parseShelly('p/status/emdata:0', '{"total_act":-5}')).toMatchObject({ ok: false, reason: 'bad_value' });
    expect(parseShelly('p/status/switch:0', '{"id":0,"apower":')).toMatchObject({ ok: false, reason: 'invalid_json' });
    expect(parseShelly('p/events/rpc', '[1,2]')).toMatchObject({ ok: false, reason: 'invalid_json' });
  });

  it('accepts Buffer payloads as mqtt.js delivers them', () => {
    expect(only(parseShelly('shellies/shellyplug-s-1/relay/0/power', Buffer.from('41.5')))).toEqual({ meter: 'shellyplug-s-1:relay:0', power_w: 41.5 });
  });

  it('ignores components that meter nothing and unknown emeter topics, and rejects foreign topics', () => {
    expect(parseShelly('shellies/shellyem3-1/emeter/0/energy', '1234')).toEqual({ ok: true, readings: [] });
    expect(parseShelly('shellies/shellyem3-1/emeter/0/constructor', '1')).toEqual({ ok: true, readings: [] });
    expect(parseShelly('p/status/input:0', '{"id":0,"state":false}')).toEqual({ ok: true, readings: [] });
    expect(parseShelly('p/events/rpc', '{"method":"NotifyEvent","params":{"ts":1700000000,"events":[]}}')).toEqual({ ok: true, readings: [] });
    expect(parseShelly('tele/pow1/SENSOR', '{}')).toMatchObject({ ok: false, reason: 'unknown_topic' });
  });
});
