/**
 * The poller set with scripted pollers and fake time: readings become aligned
 * meter windows (as every meter's do), a reading for another poller's meter is
 * dropped and counted, the host's inventory follows the pollers' meters, each
 * poller's counters appear under its id, and stop() publishes what is open.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { MeterInfo } from '../../../protocol/payloads.js';
import type { MeterWindowBody } from '../../../collector/meters/meter-windows.js';
import type { MeterReading } from '../../../collector/meters/reading.js';
import type { MeterPoller } from '../../../collector/pollers/poller.js';
import { PollerSet, ownsMeter } from '../../../collector/pollers/poller-set.js';

class ScriptedPoller implements MeterPoller {
  readonly kind = 'redfish' as const;
  emit: (r: MeterReading, at: number) => void = () => undefined;
  stopped = false;
  known: MeterInfo[] = [];
  constructor(readonly id: string) {}
  start(emit: (r: MeterReading, at: number) => void): void {
    this.emit = emit;
  }
  async stop(): Promise<void> {
    this.stopped = true;
  }
  meters(): MeterInfo[] {
    return this.known;
  }
  health(): Record<string, number> {
    return { polls: 3, timeout: 1 };
  }
}

const T0 = 1_764_000_000_000;
beforeEach(() => void vi.useFakeTimers({ now: T0 }));
afterEach(() => void vi.useRealTimers());

function setup() {
  const a = new ScriptedPoller('bmc-a');
  const b = new ScriptedPoller('bmc-b');
  const published: { meter: string; body: MeterWindowBody }[] = [];
  const inventories: MeterInfo[][] = [];
  const set = new PollerSet([a, b], {
    windowMs: 1000, now: () => Date.now(), log: () => undefined,
    publishWindow: (meter, body) => published.push({ meter, body }),
    inventoryChanged: (m) => inventories.push(m),
  });
  return { a, b, set, published, inventories };
}

describe('PollerSet', () => {
  it('windows each meter\'s readings and publishes each window once it has closed', async () => {
    const { a, set, published } = setup();
    set.start();
    a.emit({ meter: 'bmc-a', power_w: 300 }, T0 + 100);
    a.emit({ meter: 'bmc-a', power_w: 500, energy_import_wh: 1000 }, T0 + 600);
    a.emit({ meter: 'bmc-a/psu-0', power_w: 250 }, T0 + 600);
    await vi.advanceTimersByTimeAsync(900);
    expect(published).toEqual([]);
    await vi.advanceTimersByTimeAsync(250);
    expect(published).toEqual([
      { meter: 'bmc-a', body: { ts: T0, window_ms: 1000, power_w: { min: 300, max: 500, mean: 400, last: 500, n: 2 }, energy_import_wh: 1000 } },
      { meter: 'bmc-a/psu-0', body: { ts: T0, window_ms: 1000, power_w: { min: 250, max: 250, mean: 250, last: 250, n: 1 } } },
    ]);
    await set.stop();
  });

  it('drops and counts a reading for a meter outside the poller\'s id', async () => {
    const { a, set, published } = setup();
    set.start();
    a.emit({ meter: 'bmc-b', power_w: 1 }, T0);
    a.emit({ meter: 'bmc-ab', power_w: 1 }, T0);
    await set.stop();
    expect(published).toEqual([]);
    expect(set.health()).toMatchObject({ poller_foreign_readings: 2, poller_windows: 0 });
    expect([ownsMeter('bmc', 'bmc'), ownsMeter('bmc', 'bmc/psu-1'), ownsMeter('bmc', 'bmc2')]).toEqual([true, true, false]);
  });

  it('counts a window the server would refuse instead of sending it', async () => {
    const { a, set, published } = setup();
    set.start();
    a.emit({ meter: 'bmc-a', power_w: Number.NaN }, T0);
    await set.stop();
    expect(published).toEqual([]);
    expect(set.health()).toMatchObject({ poller_invalid_windows: 1 });
  });

  it('announces the pollers\' meters at start and again whenever they change', async () => {
    const { a, b, set, inventories } = setup();
    const info = (id: string): MeterInfo => ({ id, kind: 'redfish', supports: { energy_counter: false, instant_power: true } });
    a.known = [info('bmc-a')];
    set.start();
    expect(inventories).toEqual([[info('bmc-a')]]);
    await vi.advanceTimersByTimeAsync(1000);
    expect(inventories).toHaveLength(1);
    b.known = [info('bmc-b'), info('bmc-b/psu-0')];
    await vi.advanceTimersByTimeAsync(250);
    expect(inventories.at(-1)!.map((m) => m.id)).toEqual(['bmc-a', 'bmc-b', 'bmc-b/psu-0']);
    await set.stop();
  });

  it('shows each poller\'s counters under its id, and stop() stops every poller and publishes open windows', async () => {
    const { a, b, set, published } = setup();
    set.start();
    b.emit({ meter: 'bmc-b', power_w: 42 }, T0 + 10);
    await set.stop();
    expect([a.stopped, b.stopped]).toEqual([true, true]);
    expect(published.map((p) => [p.meter, p.body.power_w?.last])).toEqual([['bmc-b', 42]]);
    expect(set.health()).toEqual({
      poller_windows: 1, poller_invalid_windows: 0, poller_foreign_readings: 0, poller_counter_resets: 0,
      'poller/bmc-a_polls': 3, 'poller/bmc-a_timeout': 1, 'poller/bmc-b_polls': 3, 'poller/bmc-b_timeout': 1,
    });
  });
});
