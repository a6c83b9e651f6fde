/**
 * The Tasmota parser over every fixture in ../shared/fixtures/meters/tasmota
 * (a fixture without a check fails), plus inline edge cases. The fixture is
 * in console format `<topic> = <payload>`; the parser takes them apart.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseTasmota, tasmotaMeterId } from '../../../collector/meters/parse-tasmota.js';
import { ROOT } from '../../helpers/kilowatch-process.js';
import { describeFixtures } from '../../helpers/fixture-suite.js';

const DIR = join(ROOT, '..', 'shared', 'fixtures', 'meters', 'tasmota');

/** Splits the console/log format `<topic> = <payload>` used by the Tasmota docs. */
function consoleLine(text: string): { topic: string; payload: string } {
  const line = text.split('\n').find((l) => l.includes(' = '))!;
  const at = line.indexOf(' = ');
  return { topic: line.slice(0, at), payload: line.slice(at + 3) };
}

function checkPowR2(file: string) {
  const { topic, payload } = consoleLine(readFileSync(join(DIR, file), 'utf8'));
  expect(topic).toBe('tele/pow1/SENSOR');
  // Power 2635 W, Total 6.294 kWh = 6294 Wh, Voltage 227 V, Current 11.661 A, Factor 0.99.
  // Today/Yesterday are day slices, not counters; Time has no zone, so no ts.
  expect(parseTasmota(topic, payload)).toEqual({
    ok: true,
    readings: [{ meter: 'pow1', power_w: 2635, energy_import_wh: 6294, voltage_v: 227, current_a: 11.661, pf: 0.99 }],
  });
}

const CHECKS: Record<string, (file: string) => void> = {
  'tasmota-docs__Sonoff-Pow-R2__tele-pow1-SENSOR__console-format.txt': checkPowR2,
};

describeFixtures('parseTasmota over the captured fixtures', DIR, Object.fromEntries(Object.entries(CHECKS).map(([file, check]) => [file, () => check(file)])));

describe('parseTasmota edge cases', () => {
  it('keeps negative power and reads ExportActive on a bidirectional meter', () => {
    const payload = '{"Time":"2024-06-01T12:00:00+02:00","ENERGY":{"Total":1520.25,"ExportActive":311.5,"Power":-2410,"Voltage":231,"Current":10.4,"Factor":-0.99}}';
    expect(parseTasmota('tele/grid/SENSOR', payload)).toEqual({
      ok: true,
      readings: [{ meter: 'grid', ts: Date.parse('2024-06-01T10:00:00Z'), power_w: -2410, voltage_v: 231, current_a: 10.4, pf: -0.99, energy_import_wh: 1520250, energy_export_wh: 311500 }],
    });
  });

  it('reports multi-channel arrays as channels and sums power and Total', () => {
    const payload = '{"ENERGY":{"Total":[1.5,0.25],"Power":[100,50.5],"Voltage":[230,231],"Current":[0.45,0.22],"Factor":[0.97,0.99]}}';
    expect(parseTasmota('tele/shelly25/SENSOR', payload)).toEqual({
      ok: true,
      readings: [
        {
          meter: 'shelly25',
          power_w: 150.5,
          energy_import_wh: 1750,
          phases: [
            { phase: '1', power_w: 100, voltage_v: 230, current_a: 0.45, pf: 0.97 },
            { phase: '2', power_w: 50.5, voltage_v: 231, current_a: 0.22, pf: 0.99 },
          ],
        },
      ],
    });
  });

  it('reads the same ENERGY object from a Status 10 answer', () => {
    const payload = '{"StatusSNS":{"Time":"2024-06-01T12:00:00","ENERGY":{"Total":0.5,"Power":12}}}';
    expect(parseTasmota('stat/rack/pdu1/STATUS10', payload)).toEqual({ ok: true, readings: [{ meter: 'rack/pdu1', power_w: 12, energy_import_wh: 500 }] });
  });

  it('calls a SENSOR message without ENERGY unmetered, never 0 W', () => {
    expect(parseTasmota('tele/th16/SENSOR', '{"Time":"2024-06-01T12:00:00","AM2301":{"Temperature":21.3,"Humidity":40.1}}')).toMatchObject({ ok: false, reason: 'unmetered' });
  });

  it('rejects malformed JSON, NaN, impossible values and foreign topics', () => {
    // Tasmota can print a bare nan for a failed sensor, which is not JSON.
    expect(parseTasmota('tele/pow1/SENSOR', '{"ENERGY":{"Power":nan}}')).toMatchObject({ ok: false, reason: 'invalid_json' });
    expect(parseTasmota('tele/pow1/SENSOR', '{"ENERGY":{"Power":"NaN"}}')).toMatchObject({ ok: false, reason: 'bad_value' });
    expect(parseTasmota('tele/pow1/SENSOR', '{"ENERGY":{"Power":10,"Total":-1}}')).toMatchObject({ ok: false, reason: 'bad_value' });
    expect(parseTasmota('tele/pow1/SENSOR', '{"ENERGY":{"Factor":1.7}}')).toMatchObject({ ok: false, reason: 'bad_value' });
    expect(parseTasmota('tele/pow1/SENSOR', '{"ENERGY":[1]}')).toMatchObject({ ok: false, reason: 'bad_value' });
    expect(parseTasmota('tele/pow1/SENSOR', '"ENERGY"')).toMatchObject({ ok: false, reason: 'invalid_json' });
    expect(parseTasmota('tele/pow1/STATE', '{}')).toMatchObject({ ok: false, reason: 'unknown_topic' });
    expect(tasmotaMeterId('tele/pow1/SENSOR')).toBe('pow1');
  });

  it('leaves absent fields absent', () => {
    expect(parseTasmota('tele/p/SENSOR', '{"ENERGY":{"Power":0}}')).toEqual({ ok: true, readings: [{ meter: 'p', power_w: 0 }] });
  });
});
