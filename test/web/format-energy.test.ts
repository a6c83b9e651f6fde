import { describe, expect, it } from 'vitest';
import {
  DASH,
  formatCarbon,
  formatCoverage,
  formatEnergy,
  formatEnergyWithProvenance,
  formatJoules,
  formatMethod,
  formatPerUnit,
  sig3,
} from '../../web/src/lib/format-energy.js';

const WH = 3600;

describe('formatEnergy', () => {
  it.each([
    [0, '0 Wh'],
    [3394.8, '0.943 Wh'],
    [0.7 * WH, '0.700 Wh'],
    [6 * WH, '6.00 Wh'],
    [77.8 * WH, '77.8 Wh'],
    [943 * WH, '943 Wh'],
    [999.7 * WH, '1.00 kWh'],
    [12.4e3 * WH, '12.4 kWh'],
    [1.25e6 * WH, '1.25 MWh'],
    [3.2e9 * WH, '3.20 GWh'],
  ])('%s J reads %s', (joules, text) => {
    expect(formatEnergy(joules)).toBe(text);
  });

  it('absent, NaN and infinite energies read as a dash, never 0 or NaN', () => {
    for (const v of [null, undefined, Number.NaN, Infinity]) expect(formatEnergy(v)).toBe(DASH);
  });

  it('exact joules for the tooltip', () => {
    expect(formatJoules(21421.52)).toBe('21,422 J');
    expect(formatJoules(null)).toBe(DASH);
  });
});

describe('sig3', () => {
  it.each([
    [0, '0'],
    [-0.001, '-0.00100'],
    [-0.0000001, '-1.00e-7'],
    [4.271, '4.27'],
    [42.71, '42.7'],
    [427.1, '427'],
    [4271, '4271'],
  ])('%s -> %s', (x, text) => {
    expect(sig3(x)).toBe(text);
  });

  it('negative zero has no sign', () => {
    expect(sig3(-0)).toBe('0');
  });
});

describe('formatCoverage', () => {
  it.each([
    [1, '100 %'],
    [1.2, '100 %'],
    [0.996, '99 %'],
    [0.9109, '91 %'],
    [0.5, '50 %'],
    [0.004, '<1 %'],
    [0, '0 %'],
    [-0.1, '0 %'],
  ])('%s reads %s (rounded down: only full coverage reads 100 %%)', (c, text) => {
    expect(formatCoverage(c)).toBe(text);
  });

  it('absent coverage is a dash', () => {
    expect(formatCoverage(null)).toBe(DASH);
    expect(formatCoverage(Number.NaN)).toBe(DASH);
  });
});

describe('formatEnergyWithProvenance', () => {
  it('puts method and coverage beside the energy', () => {
    expect(formatEnergyWithProvenance(12.4e3 * WH, 'counter', 0.984)).toBe('12.4 kWh · counter · 98 %');
    expect(formatEnergyWithProvenance(5 * WH, 'mixed', 1)).toBe('5.00 Wh · mixed · 100 %');
  });

  it('a job with no windows yet says so instead of naming a method', () => {
    expect(formatMethod(null)).toBe('no data');
    expect(formatEnergyWithProvenance(0, null, 0)).toBe('0 Wh · no data · 0 %');
  });
});

describe('formatPerUnit', () => {
  it('no work counters read a dash, never NaN or Infinity', () => {
    expect(formatPerUnit({})).toBe(DASH);
    expect(formatPerUnit(undefined)).toBe(DASH);
    expect(formatPerUnit({ tokens: Number.NaN, samples: Infinity, requests: 0 })).toBe(DASH);
  });

  it('scales and names each unit in the singular, sorted by name', () => {
    expect(formatPerUnit({ samples: 5.174 })).toBe('5.17 J/sample');
    expect(formatPerUnit({ tokens: 0.11176, samples: 6.53 })).toBe('6.53 J/sample · 112 mJ/token');
    expect(formatPerUnit({ requests: 1234 })).toBe('1.23 kJ/request');
    expect(formatPerUnit({ images: 2.5e6 })).toBe('2.50 MJ/image');
    expect(formatPerUnit({ s: 1 })).toBe('1.00 J/s');
  });
});

describe('formatCarbon', () => {
  it.each([
    [0.374, '0.374 g'],
    [375, '375 g'],
    [2364.4, '2.36 kg'],
    [1.2e6, '1.20 t'],
  ])('%s g reads %s', (g, text) => {
    expect(formatCarbon(g)).toBe(text);
  });

  it('absent carbon is a dash', () => {
    expect(formatCarbon(undefined)).toBe(DASH);
  });
});
