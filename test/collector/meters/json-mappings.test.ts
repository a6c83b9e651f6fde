/** The mqtt-json mapping file is checked whole before the collector starts. */
import { describe, expect, it } from 'vitest';
import { parseJsonMappings } from '../../../collector/meters/json-mappings.js';

describe('parseJsonMappings', () => {
  it('accepts a valid file', () => {
    const text = JSON.stringify([{ topic: 'inverter/+/state', meter: 'pv-$1', fields: { power_w: { path: 'ac.power', sign: -1 }, energy_export_wh: { path: 'ac.yield_total_kwh', scale: 1000 }, ts: { path: 't', scale: 1000 } } }]);
    expect(parseJsonMappings(text, 'm.json')).toEqual({
      ok: true,
      mappings: [{ topic: 'inverter/+/state', meter: 'pv-$1', fields: { power_w: { path: 'ac.power', sign: -1 }, energy_export_wh: { path: 'ac.yield_total_kwh', scale: 1000 }, ts: { path: 't', scale: 1000 } } }],
    });
  });

  it('lists every problem at once', () => {
    const text = JSON.stringify([
      { topic: 'a/#/b', meter: 'x-$2', fields: { power: { path: 'p' } } },
      { topic: 'ok/+', meter: '', fields: { power_w: { path: '', scale: -1 } } },
      { topic: 'ts/+', meter: 'm', fields: { ts: { path: 't' } } },
      { topic: 'f/+', meter: 'm', fields: { pf: { path: 'pf', sign: 2 } } },
      'not an object',
    ]);
    const r = parseJsonMappings(text, 'm.json');
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.problems).toEqual([
      'm.json[0].topic: "#" may only be the whole last level (a/#/b)',
      'm.json[0].meter refers to $2 but the topic has 1 wildcard(s)',
      'm.json[0].fields.power: unknown field; use power_w, energy_import_wh, energy_export_wh, voltage_v, current_a, pf, ts',
      'm.json[0].fields has no meter field, only a timestamp',
      'm.json[1].meter must be a meter id, e.g. "pv-$1"',
      'm.json[1].fields.power_w needs a "path" (dot-separated, e.g. "ENERGY.Power")',
      'm.json[1].fields has no meter field, only a timestamp',
      'm.json[2].fields has no meter field, only a timestamp',
      'm.json[3].fields.pf.sign must be 1 or -1',
      'm.json[4] must be an object',
    ]);
  });

  it('refuses a file that is not a JSON array', () => {
    expect(parseJsonMappings('{"topic": "a"}', 'm.json')).toEqual({ ok: false, problems: ['m.json: expected an array of mappings'] });
    expect(parseJsonMappings('[', 'm.json')).toMatchObject({ ok: false, problems: [expect.stringContaining('m.json: not JSON')] });
  });
});
