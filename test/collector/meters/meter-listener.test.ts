/**
 * The listener's path from message to published window, driven without a
 * broker (onMessage is what the MQTT client calls): the captured Shelly
 * traffic of ../shared/fixtures becomes one window per meter, and bad
 * input is counted by reason while the listener keeps going.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MeterListener } from '../../../collector/meters/meter-listener.js';
import { MeterRouter } from '../../../collector/meters/meter-router.js';
import type { MeterWindowBody } from '../../../collector/meters/meter-windows.js';
import type { MeterInfo } from '../../../protocol/payloads.js';
import { ROOT } from '../../helpers/kilowatch-process.js';

const CAPTURE = join(ROOT, '..', 'shared', 'fixtures', 'meters', 'shelly', 'go-mqtt-to-influx__captured-mqtt-traffic__gen1-shelly1__gen2-plus1pm__gen1-shellyem3.txt');
const T0 = 1_795_867_200_000;

function listener(jsonMappings = [] as ConstructorParameters<typeof MeterRouter>[0]['jsonMappings']) {
  const windows: { meter: string; body: MeterWindowBody }[] = [];
  const inventories: MeterInfo[][] = [];
  const log: string[] = [];
  const l = new MeterListener({
    brokerUrl: 'mqtt://unused', clientId: 'test', windowMs: 10_000, now: () => T0,
    router: new MeterRouter({ kinds: ['shelly', 'mqtt-json'], zigbeeBase: 'zigbee2mqtt', jsonMappings, maxMeters: 100 }),
    log: (line) => log.push(line),
    publishWindow: (meter, body) => windows.push({ meter, body }),
    inventoryChanged: (meters) => inventories.push(meters),
  });
  return { l, windows, inventories, log };
}

describe('MeterListener', () => {
  it('turns the captured Shelly traffic into one window per meter, with the last counter', async () => {
    const { l, windows, inventories } = listener();
    // Message lines are "<topic> <payload>"; the capture's section labels ("shelly 1pm") are not messages.
    const lines = readFileSync(CAPTURE, 'utf8').split('\n').filter((line) => line.includes('/'));
    lines.forEach((line, i) => l.onMessage(line.slice(0, line.indexOf(' ')), Buffer.from(line.slice(line.indexOf(' ') + 1)), T0 + i * 100));
    await l.stop();
    expect(windows.map((w) => w.meter).sort()).toEqual([
      'shellies/plus1pm:switch:0', 'shellies/shellyem3:emeter:0', 'shellies/shellyem3:emeter:1', 'shellies/shellyem3:emeter:2',
    ]);
    const plus = windows.find((w) => w.meter === 'shellies/plus1pm:switch:0')!.body;
    // Four status messages carry power 0 W; five readings carry voltage (the NotifyStatus delta too).
    expect(plus).toEqual({
      ts: T0, window_ms: 10_000, energy_import_wh: 0,
      power_w: { min: 0, max: 0, mean: 0, last: 0, n: 4 },
      voltage_v: { min: 232.6, max: 232.8, mean: (232.7 * 3 + 232.8 + 232.6) / 5, last: 232.6, n: 5 },
      current_a: { min: 0, max: 0, mean: 0, last: 0, n: 4 },
    });
    expect(windows.find((w) => w.meter === 'shellies/shellyem3:emeter:0')!.body).toMatchObject({ voltage_v: { last: 230.35 }, energy_import_wh: 0, energy_export_wh: 0, pf: { last: 0 } });
    expect(inventories.at(-1)!.map((m) => m.id)).toHaveLength(4);
    // The Gen1 relay-only Shelly 1 and the status/info chatter are understood, not errors.
    expect(Object.keys(l.health()).filter((k) => k.startsWith('meter_rejected'))).toEqual([]);
    expect(l.health()).toMatchObject({ meter_messages: lines.length, meter_windows: 4, meters_known: 4, meter_invalid_windows: 0 });
  });

  it('counts malformed, oversized and impossible input by reason and keeps going', async () => {
    const { l, windows, log } = listener([{ topic: 'pdu/+', meter: '$1', fields: { power_w: { path: 'w' } } }]);
    l.onMessage('pdu/a', Buffer.from('{"w": 1200'), T0);
    l.onMessage('pdu/a', Buffer.from('{"w": 1200}'), T0);
    l.onMessage('pdu/a', Buffer.alloc(300 * 1024, 32), T0);
    l.onMessage('pdu/b', Buffer.from('{"w": 5e12}'), T0); // 5 TW: parses, but no meter draws that
    l.onMessage('pdu/c', Buffer.from('{"w": "NaN"}'), T0);
    l.onMessage('nobody/listens/here', Buffer.from('{}'), T0);
    await l.stop();
    expect(windows.map((w) => w.meter)).toEqual(['a']);
    expect(l.health()).toMatchObject({
      meter_messages: 6, meter_readings: 2, meter_windows: 1, meter_invalid_windows: 1,
      meter_rejected_invalid_json: 1, meter_rejected_oversized: 1, meter_rejected_bad_value: 1, meter_rejected_unknown_topic: 1,
    });
    expect(log.some((line) => line.includes('window of b not sent (impossible_value)'))).toBe(true);
  });

  it('reports a counter that goes backwards once per meter', () => {
    const { l, log } = listener([{ topic: 'pdu/+', meter: '$1', fields: { energy_import_wh: { path: 'wh' } } }]);
    for (const wh of [500, 10, 5, 20]) l.onMessage('pdu/a', Buffer.from(`{"wh": ${wh}}`), T0);
    expect(l.health().meter_counter_resets).toBe(2);
    expect(log.filter((line) => line.includes('went backwards'))).toHaveLength(1);
  });
});
