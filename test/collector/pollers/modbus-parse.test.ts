/** parse-modbus and modbus-maps: register decoding, read planning, the SDM630 map, frames, and custom maps from config. */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SDM630, pointsFromEntry } from '../../../collector/pollers/modbus-maps.js';
import {
  MbapReader, type RegisterPoint, decodeReadResponse, decodeRegisters, encodeReadRequest, planReads, readingFromRegisters, shortestFloat32,
} from '../../../collector/pollers/parse-modbus.js';
import { describeFixtures } from '../../helpers/fixture-suite.js';
import { ROOT } from '../../helpers/kilowatch-process.js';

describeFixtures('SDM630 register fixtures', join(ROOT, 'test/fixtures/modbus'), {
  'sdm630__3-phase-import__encoded-from-doc.json': (text) => {
    const f = JSON.parse(text) as { words: string[]; address: number };
    const words = f.words.map((w) => Number(w));
    const blocks = planReads(SDM630, 80);
    expect(blocks).toEqual([{ table: 'input', address: 0, count: 0x4c }]); // the whole map in one read of 76 registers
    const r = readingFromRegisters('meter-a', SDM630, [{ ...blocks[0]!, words }]);
    expect(r).toEqual({
      ok: true,
      reading: {
        meter: 'meter-a',
        voltage_v: 230.36667, // "Average line to neutral volts"
        current_a: 15.75,
        power_w: 3500.75,
        pf: 0.975,
        energy_import_wh: 123_456_700, // 123456.7 kWh
        energy_export_wh: 12_250,
        phases: [
          { phase: 'L1', voltage_v: 230.1, current_a: 5.5, power_w: 1200.5, pf: 0.98 },
          { phase: 'L2', voltage_v: 229.8, current_a: 4.25, power_w: 950, pf: 0.97 },
          { phase: 'L3', voltage_v: 231.2, current_a: 6, power_w: 1350.25, pf: -0.99 },
        ],
      },
    });
  },
});

describe('decodeRegisters', () => {
  it('reads signed and unsigned 16- and 32-bit integers in both word orders, and float32', () => {
    expect(decodeRegisters([0xfffe], 0, 'int16', 'big')).toBe(-2);
    expect(decodeRegisters([0xfffe], 0, 'uint16', 'big')).toBe(65534);
    expect(decodeRegisters([0x0001, 0x86a0], 0, 'uint32', 'big')).toBe(100_000);
    expect(decodeRegisters([0x86a0, 0x0001], 0, 'uint32', 'little')).toBe(100_000);
    expect(decodeRegisters([0xffff, 0xfffe], 0, 'int32', 'big')).toBe(-2);
    expect(decodeRegisters([0, 0x4366, 0x199a], 1, 'float32', 'big')).toBe(230.1);
    expect(decodeRegisters([0x199a, 0x4366], 0, 'float32', 'little')).toBe(230.1);
    expect(decodeRegisters([0x7fc0, 0x0000], 0, 'float32', 'big')).toBeNaN();
  });

  it('gives a float32 its own digits, no more', () => {
    expect(Math.fround(230.1)).not.toBe(230.1);
    expect(shortestFloat32(Math.fround(230.1))).toBe(230.1);
    expect(shortestFloat32(Math.fround(123456.7))).toBe(123456.7);
    expect(shortestFloat32(Math.fround(16777217))).toBe(16777216); // float32 cannot hold it
  });
});

describe('planReads', () => {
  const p = (address: number, type: RegisterPoint['type'], table: RegisterPoint['table'] = 'holding'): RegisterPoint =>
    ({ name: `r${address}`, table, address, type, wordOrder: 'big', scale: 1, unit: 'W', field: 'power_w' });

  it('shares reads across small gaps, splits at the size limit and per table', () => {
    expect(planReads([p(10, 'uint16'), p(12, 'float32'), p(100, 'int32'), p(5, 'uint16', 'input')], 125)).toEqual([
      { table: 'input', address: 5, count: 1 },
      { table: 'holding', address: 10, count: 4 },
      { table: 'holding', address: 100, count: 2 },
    ]);
    expect(planReads([p(0, 'float32'), p(2, 'float32'), p(4, 'float32')], 4)).toEqual([
      { table: 'holding', address: 0, count: 4 },
      { table: 'holding', address: 4, count: 2 },
    ]);
  });
});

describe('readingFromRegisters', () => {
  it('rejects the reading when a value is not a number or impossible', () => {
    const bad = readingFromRegisters('m', SDM630, [{ table: 'input', address: 0, count: 0x4c, words: Array.from({ length: 0x4c }, (_, i) => (i === 0x48 ? 0xc2c8 : 0)) }]);
    expect(bad).toEqual({ ok: false, reason: 'bad_value', detail: 'Import Wh since last reset (input register 72) is -100' });
    const nan = readingFromRegisters('m', SDM630, [{ table: 'input', address: 0, count: 0x4c, words: Array.from({ length: 0x4c }, (_, i) => (i === 0x34 ? 0x7fc0 : 0)) }]);
    expect(nan.ok).toBe(false);
    const short = readingFromRegisters('m', SDM630, [{ table: 'input', address: 0, count: 0x30, words: new Array(0x30).fill(0) }]);
    expect(short).toMatchObject({ ok: false, reason: 'missing' });
  });
});

describe('Modbus TCP frames', () => {
  it('asks as the spec example does (read input register 0x0008, quantity 1) and reads its answer (0x000A)', () => {
    // MODBUS Application Protocol V1.1b3 §6.4: request 04 0008 0001, response 04 02 000A; in an MBAP header.
    expect(encodeReadRequest(0x1234, 17, { table: 'input', address: 8, count: 1 }).toString('hex')).toBe('123400000006110400080001');
    const answer = Buffer.from('12340000000511040200' + '0a', 'hex');
    expect(decodeReadResponse(answer, 17, { table: 'input', address: 8, count: 1 })).toEqual({ ok: true, words: [10] });
    const exception = Buffer.from('123400000003118402', 'hex');
    expect(decodeReadResponse(exception, 17, { table: 'input', address: 8, count: 1 })).toEqual({ ok: false, detail: 'exception 2 (illegal data address) reading input registers 8..8' });
    expect(decodeReadResponse(answer, 17, { table: 'input', address: 8, count: 2 })).toEqual({ ok: false, detail: 'answer of 2 bytes for 2 registers' });
    expect(decodeReadResponse(answer, 3, { table: 'input', address: 8, count: 1 })).toEqual({ ok: false, detail: 'answer from unit 17, asked unit 3' });
  });

  it('splits a byte stream into frames and refuses a stream that is not Modbus TCP', () => {
    const a = Buffer.from('000100000005010402abcd', 'hex');
    const b = Buffer.from('000200000005010402beef', 'hex');
    const r = new MbapReader();
    expect(r.push(a.subarray(0, 5))).toEqual({ frames: [] });
    const both = r.push(Buffer.concat([a.subarray(5), b]));
    expect('frames' in both && both.frames.map((f) => f.toString('hex'))).toEqual([a.toString('hex'), b.toString('hex')]);
    expect(new MbapReader().push(Buffer.from('HTTP/1.1 400 Bad Request\r\n', 'latin1'))).toEqual({ error: 'not a Modbus TCP frame (protocol 21584, length 12081)' });
    expect(new MbapReader().push(Buffer.from('000100000400', 'hex').subarray(0, 6))).toEqual({ frames: [] });
    expect(new MbapReader().push(Buffer.from('00010000ffff01', 'hex'))).toEqual({ error: 'not a Modbus TCP frame (protocol 0, length 65535)' });
  });
});

describe('custom register maps', () => {
  it('reads a map from config, with units converted', () => {
    const r = pointsFromEntry({ table: 'input', registers: [
      { address: 0, type: 'uint32', word_order: 'little', scale: 0.01, unit: 'kWh', field: 'energy_import_wh' },
      { address: 4, type: 'int16', unit: 'kW', scale: 0.001, field: 'power_w', name: 'Active power' },
      { address: 5, type: 'uint16', unit: '%', field: 'pf', table: 'holding' },
    ] }, 'e');
    expect(r.ok && r.points).toEqual([
      { name: 'register 0', table: 'input', address: 0, type: 'uint32', wordOrder: 'little', scale: 0.01, unit: 'kWh', field: 'energy_import_wh' },
      { name: 'Active power', table: 'input', address: 4, type: 'int16', wordOrder: 'big', scale: 0.001, unit: 'kW', field: 'power_w' },
      { name: 'register 5', table: 'holding', address: 5, type: 'uint16', wordOrder: 'big', scale: 1, unit: '%', field: 'pf' },
    ]);
    const points = r.ok ? r.points : [];
    // 1234567 hundredths of kWh = 12345.67 kWh; -1500 thousandths of kW = -1.5 kW (export); 97 % = 0.97
    const reading = readingFromRegisters('m', points, [
      { table: 'input', address: 0, count: 5, words: [0xd687, 0x0012, 0, 0, 0xfa24] },
      { table: 'holding', address: 5, count: 1, words: [97] },
    ]);
    expect(reading).toEqual({ ok: true, reading: { meter: 'm', energy_import_wh: 12_345_670, power_w: -1500, pf: 0.97 } });
  });

  it('lists every problem of a bad map', () => {
    expect(pointsFromEntry({}, 'e')).toEqual({ ok: false, problems: ['e: needs exactly one of map (sdm630) or registers'] });
    expect(pointsFromEntry({ map: 'sdm120' }, 'e')).toEqual({ ok: false, problems: ['e: map must be one of sdm630, got "sdm120"'] });
    const bad = pointsFromEntry({ registers: [{ address: -1, type: 'float64', unit: 'W', field: 'energy_import_wh', word_order: 'middle', extra: 1 }] }, 'e');
    expect(bad.ok ? [] : bad.problems).toEqual([
      'e: registers[0]: unknown setting "extra" (known: name, table, address, type, word_order, scale, unit, field, phase)',
      'e: registers[0].address must be a register address from 0 to 65535',
      'e: registers[0].type must be one of int16, uint16, int32, uint32, float32',
      'e: registers[0].unit for energy_import_wh must be one of "Wh", "kWh", "MWh"',
      'e: registers[0].word_order must be big (high word first) or little',
    ]);
  });
});
