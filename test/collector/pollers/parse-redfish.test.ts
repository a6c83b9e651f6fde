/**
 * parse-redfish over every DMTF mockup fixture (each with its values
 * asserted), then the cases a BMC produces that the mockup does not: null
 * and absent readings, disabled sensors, negative or non-numeric values,
 * parts that are not the node, and SensingInterval durations.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  chassisLinks, collectionMembers, environmentSources, isNodeSensor, isoDurationMs, mergeReadings, readRedfishDocument,
} from '../../../collector/pollers/parse-redfish.js';
import { SHARED_FIXTURES, describeFixtures } from '../../helpers/fixture-suite.js';

const read = (doc: unknown) => readRedfishDocument('bmc', doc);

describeFixtures('parse-redfish over the DMTF mockup fixtures', join(SHARED_FIXTURES, 'redfish'), {
  'dmtf-mockup__public-rackmount1__Chassis-1U-Power-legacy.json': (text) => {
    const r = read(JSON.parse(text));
    expect(r).toEqual({
      ok: true,
      readings: [{ meter: 'bmc', power_w: 344 }, { meter: 'bmc/psu-0', power_w: 325, voltage_v: 120 }],
      meters: [{ id: 'bmc', name: 'node power (PowerControl)' }, { id: 'bmc/psu-0', name: 'Power Supply Bay 0 (output power)' }],
    });
  },
  'dmtf-mockup__public-rackmount1__Chassis-1U-Sensors-TotalPower.json': (text) => {
    const doc = JSON.parse(text);
    expect(read(doc)).toEqual({ ok: true, readings: [{ meter: 'bmc', power_w: 374, pf: 0.99 }], meters: [{ id: 'bmc', name: 'Power reading for the Chassis' }], intervalMs: 250 });
    expect(isNodeSensor(doc, 'power')).toBe(true);
    expect(isNodeSensor(doc, 'energy')).toBe(false);
  },
  'dmtf-mockup__public-rackmount1__Chassis-1U-Sensors-TotalEnergy.json': (text) => {
    const doc = JSON.parse(text);
    // 325675 kWh read as an energy counter, in Wh as every meter counter is.
    expect(read(doc)).toEqual({ ok: true, readings: [{ meter: 'bmc', energy_import_wh: 325_675_000 }], meters: [{ id: 'bmc', name: 'Total Energy' }] });
    expect(isNodeSensor(doc, 'energy')).toBe(true);
  },
  'dmtf-mockup__public-rackmount1__Chassis-1U-EnvironmentMetrics.json': (text) => {
    const doc = JSON.parse(text);
    expect(read(doc)).toMatchObject({ ok: true, readings: [{ meter: 'bmc', power_w: 374 }] });
    expect(environmentSources(doc)).toEqual({ power: '/redfish/v1/Chassis/1U/Sensors/TotalPower', energy: undefined });
  },
});

const sensor = (over: object) => ({ '@odata.type': '#Sensor.v1_6_0.Sensor', Name: 'Total', ReadingType: 'Power', PhysicalContext: 'Chassis', Reading: 500, ...over });

describe('parse-redfish: what a BMC sends that the mockup does not', () => {
  it('reads a null or missing Reading as absent, not 0', () => {
    expect(read(sensor({ Reading: null }))).toMatchObject({ ok: true, readings: [] });
    expect(read(sensor({ Reading: undefined }))).toMatchObject({ ok: true, readings: [] });
  });

  it('reads a sensor whose State is not Enabled as absent, whatever its Reading says', () => {
    for (const State of ['Absent', 'Disabled', 'UnavailableOffline', 'StandbyOffline']) {
      expect(read(sensor({ Status: { State }, Reading: 0 }))).toMatchObject({ ok: true, readings: [] });
    }
    expect(read(sensor({ Status: { State: 'Enabled', Health: 'OK' } }))).toMatchObject({ readings: [{ power_w: 500 }] });
  });

  it('refuses negative, non-numeric and impossible values with a reason', () => {
    expect(read(sensor({ Reading: -5 }))).toEqual({ ok: false, reason: 'bad_value', detail: 'Total Reading is -5' });
    expect(read(sensor({ Reading: 'n/a' }))).toMatchObject({ ok: false, reason: 'bad_value' });
    expect(read(sensor({ PowerFactor: 1.7 }))).toMatchObject({ ok: false, reason: 'bad_value' });
    expect(read({ '@odata.type': '#EnvironmentMetrics.v1_3_0.EnvironmentMetrics', PowerWatts: { Reading: -1 } })).toMatchObject({ ok: false, reason: 'bad_value' });
    expect(read({ '@odata.type': '#Power.v1_7_1.Power', PowerControl: [{ PowerConsumedWatts: 'high' }] })).toMatchObject({ ok: false, reason: 'bad_value' });
  });

  it('converts every energy unit of ReadingType to Wh', () => {
    expect(read(sensor({ ReadingType: 'EnergyWh', Reading: 1234.5 }))).toMatchObject({ readings: [{ energy_import_wh: 1234.5 }] });
    expect(read(sensor({ ReadingType: 'EnergyJoules', Reading: 7200 }))).toMatchObject({ readings: [{ energy_import_wh: 2 }] });
    expect(read(sensor({ ReadingType: 'EnergykWh', Reading: 6.294 }))).toMatchObject({ readings: [{ energy_import_wh: 6294 }] });
  });

  it('says why a document without node power is not read', () => {
    expect(read(sensor({ ReadingType: 'Temperature' }))).toEqual({ ok: false, reason: 'unmetered', detail: 'sensor Total reads Temperature, not power or energy' });
    expect(read({ '@odata.type': '#Thermal.v1_7_0.Thermal' })).toMatchObject({ ok: false, reason: 'unknown_topic' });
    expect(read([1, 2])).toMatchObject({ ok: false, reason: 'invalid_json' });
  });

  it('reads EnvironmentMetrics energy (the EnergykWh excerpt) beside its power', () => {
    const doc = { '@odata.type': '#EnvironmentMetrics.v1_3_0.EnvironmentMetrics', PowerWatts: { Reading: 410.5 }, EnergykWh: { Reading: 12.5, DataSourceUri: '/redfish/v1/Chassis/1/Sensors/Energy' } };
    expect(read(doc)).toMatchObject({ readings: [{ meter: 'bmc', power_w: 410.5, energy_import_wh: 12500 }] });
    expect(environmentSources(doc)).toEqual({ power: undefined, energy: '/redfish/v1/Chassis/1/Sensors/Energy' });
    expect(read({ '@odata.type': '#EnvironmentMetrics.v1_3_0.EnvironmentMetrics', PowerWatts: { Reading: null } })).toMatchObject({ ok: true, readings: [] });
  });

  it('takes the first PowerControl that reports, prefers a supply\'s input power, and skips absent supplies', () => {
    const doc = {
      '@odata.type': '#Power.v1_7_1.Power',
      PowerControl: [{ Name: 'no reading', PowerConsumedWatts: null }, { PowerConsumedWatts: 800 }, { PowerConsumedWatts: 120 }],
      PowerSupplies: [
        { MemberId: 'A', Name: 'PSU', PowerInputWatts: 420, LastPowerOutputWatts: 390, LineInputVoltage: 230 },
        { MemberId: 'B', Name: 'PSU', Status: { State: 'Absent' }, LastPowerOutputWatts: 0 },
        { MemberId: 'C/1', Name: 'PSU' },
      ],
    };
    const r = read(doc);
    expect(r).toMatchObject({ ok: true, readings: [{ meter: 'bmc', power_w: 800 }, { meter: 'bmc/psu-A', power_w: 420, voltage_v: 230 }] });
    expect(r.ok && r.meters.map((m) => m.name)).toEqual(['node power (PowerControl)', 'PSU A (input power)', 'PSU C/1 (output power)']);
    expect(r.ok && r.meters[2]!.id).toBe('bmc/psu-C_1');
  });

  it('tells the node from its parts: only Total or Chassis sensors stand for the node', () => {
    expect(isNodeSensor(sensor({ PhysicalContext: 'CPU' }), 'power')).toBe(false);
    expect(isNodeSensor(sensor({ PhysicalContext: 'PowerSupply', ElectricalContext: 'Total' }), 'power')).toBe(true);
    expect(isNodeSensor(sensor({ ReadingType: 'EnergyJoules' }), 'energy')).toBe(true);
  });

  it('reads SensingInterval durations, and refuses those it cannot', () => {
    expect([isoDurationMs('PT0.25S'), isoDurationMs('PT5S'), isoDurationMs('PT1M30S'), isoDurationMs('P1DT2H')]).toEqual([250, 5000, 90_000, 93_600_000]);
    expect([isoDurationMs('P1Y'), isoDurationMs('PT'), isoDurationMs('P'), isoDurationMs('5s'), isoDurationMs(5)]).toEqual([undefined, undefined, undefined, undefined, undefined]);
  });

  it('follows links and collection members, expanded or not', () => {
    expect(chassisLinks({ Power: { '@odata.id': '/redfish/v1/Chassis/1U/Power' }, Sensors: 'not a link' })).toEqual({ power: '/redfish/v1/Chassis/1U/Power', sensors: undefined, environmentMetrics: undefined });
    const expanded = { '@odata.id': '/redfish/v1/Chassis/1U/Sensors/P', ReadingType: 'Power' };
    expect(collectionMembers({ Members: [{ '@odata.id': '/redfish/v1/Chassis/1U/Sensors/T' }, expanded, 'junk'] })).toEqual({
      uris: ['/redfish/v1/Chassis/1U/Sensors/T', '/redfish/v1/Chassis/1U/Sensors/P'], expanded: [expanded],
    });
  });

  it('merges the power and energy readings of one meter', () => {
    expect(mergeReadings([{ meter: 'bmc', power_w: 374 }, { meter: 'bmc/psu-0', power_w: 1 }, { meter: 'bmc', energy_import_wh: 5 }])).toEqual([
      { meter: 'bmc', power_w: 374, energy_import_wh: 5 }, { meter: 'bmc/psu-0', power_w: 1 },
    ]);
  });
});
