/**
 * The generic JSON mapping and the shared number helpers of reading.ts.
 */
import { describe, expect, it } from 'vitest';
import { type JsonMeterMapping, matchTopic, meterName, parseMqttJson, readPath } from '../../../collector/meters/parse-mqtt-json.js';
import { epochSecondsToMs, scaled, toNumber } from '../../../collector/meters/reading.js';

const MAPPINGS: JsonMeterMapping[] = [
  {
    topic: 'inverter/+/state',
    meter: 'pv-$1',
    fields: {
      power_w: { path: 'ac.power', sign: -1 },
      energy_export_wh: { path: 'ac.yield_total_kwh', scale: 1000 },
      voltage_v: { path: 'ac.phases.0.v' },
      ts: { path: 'time', scale: 1000 },
    },
  },
  { topic: 'pdu/+/outlet/+', meter: '$1-$2', fields: { power_w: { path: 'w' }, current_a: { path: 'ma', scale: 0.001 } } },
  { topic: 'site/#', meter: 'site-$1', fields: { power_w: { path: 'p' } } },
];

describe('mqtt-json topic matching', () => {
  it('matches + per level and a trailing # for the rest', () => {
    expect(matchTopic('a/+/c', 'a/b/c')).toEqual(['b']);
    expect(matchTopic('a/+/c', 'a/b/c/d')).toBeUndefined();
    expect(matchTopic('a/+/c', 'a/b')).toBeUndefined();
    expect(matchTopic('a/#', 'a/b/c')).toEqual(['b/c']);
    expect(matchTopic('a/b', 'a/b')).toEqual([]);
  });

  it('fills $n from the captures and refuses missing ones', () => {
    expect(meterName('rack-$1-$2', ['3', 'u7'])).toBe('rack-3-u7');
    expect(meterName('$2', ['x'])).toBeUndefined();
  });

  it('reads own properties and array indices only', () => {
    expect(readPath({ a: [{ b: 5 }] }, 'a.0.b')).toBe(5);
    expect(readPath({ a: 1 }, 'constructor')).toBeUndefined();
    expect(readPath({ a: 1 }, 'a.b')).toBeUndefined();
  });
});

describe('parseMqttJson', () => {
  it('applies path, scale and sign: an inverter output is export, so negative', () => {
    const payload = '{"time":1717243200,"ac":{"power":3120.5,"yield_total_kwh":4521.125,"phases":[{"v":229.8}]}}';
    expect(parseMqttJson(MAPPINGS, 'inverter/roof/state', payload)).toEqual({
      ok: true,
      readings: [{ meter: 'pv-roof', ts: 1717243200000, power_w: -3120.5, energy_export_wh: 4521125, voltage_v: 229.8 }],
    });
  });

  it('builds the meter from several wildcards and converts mA to A', () => {
    expect(parseMqttJson(MAPPINGS, 'pdu/a12/outlet/7', Buffer.from('{"w":412,"ma":1840}'))).toEqual({ ok: true, readings: [{ meter: 'a12-7', power_w: 412, current_a: 1.84 }] });
  });

  it('accepts numeric text, leaves null and missing fields absent, and ignores an unset clock', () => {
    const payload = '{"time":12,"ac":{"power":"250","yield_total_kwh":null}}';
    expect(parseMqttJson(MAPPINGS, 'inverter/x/state', payload)).toEqual({ ok: true, readings: [{ meter: 'pv-x', power_w: -250 }] });
    expect(parseMqttJson(MAPPINGS, 'inverter/x/state', '{"other":1}')).toEqual({ ok: true, readings: [] });
  });

  it('rejects malformed JSON, NaN, negative counters and unmapped topics', () => {
    expect(parseMqttJson(MAPPINGS, 'site/a', '{"p":')).toMatchObject({ ok: false, reason: 'invalid_json' });
    expect(parseMqttJson(MAPPINGS, 'site/a', '{"p":NaN}')).toMatchObject({ ok: false, reason: 'invalid_json' });
    expect(parseMqttJson(MAPPINGS, 'site/a', '{"p":"NaN"}')).toMatchObject({ ok: false, reason: 'bad_value' });
    expect(parseMqttJson(MAPPINGS, 'site/a', '{"p":{"x":1}}')).toMatchObject({ ok: false, reason: 'bad_value' });
    expect(parseMqttJson(MAPPINGS, 'inverter/x/state', '{"ac":{"yield_total_kwh":-1}}')).toMatchObject({ ok: false, reason: 'bad_value' });
    expect(parseMqttJson(MAPPINGS, 'other/topic', '{"p":1}')).toMatchObject({ ok: false, reason: 'unknown_topic' });
    expect(parseMqttJson(MAPPINGS, 'site/a/b', '{"p":-75}')).toEqual({ ok: true, readings: [{ meter: 'site-a/b', power_w: -75 }] });
  });
});

describe('shared number helpers', () => {
  it('separates absent, numbers and bad values', () => {
    expect(toNumber(undefined)).toBeUndefined();
    expect(toNumber(null)).toBeUndefined();
    expect(toNumber(0)).toBe(0);
    expect(toNumber(' -12.5 ')).toBe(-12.5);
    expect(toNumber('1e3')).toBe(1000);
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, 'nan', 'inf', '', '12 W', true, {}, []]) expect(toNumber(bad)).toBe('bad');
  });

  it('converts units without binary noise', () => {
    expect(scaled(6.294, 1000)).toBe(6294);
    expect(scaled(2632, 1 / 60)).toBeCloseTo(43.866667, 6);
  });

  it('treats clocks before 2017 as unset (Shelly ts 1.61 before SNTP)', () => {
    expect(epochSecondsToMs(1.61)).toBeUndefined();
    expect(epochSecondsToMs(1661517385.44)).toBe(1661517385440);
    expect(epochSecondsToMs('x')).toBeUndefined();
  });
});
