/**
 * The contract every data-center power poller keeps (collector/pollers/
 * poller.ts), run against each one by meter-pollers.test.ts with the same
 * cases. Each poller brings a device that is healthy, one that fails every
 * poll, and one that hangs past any deadline; the contract checks what
 * poller.ts promises:
 * - start() returns at once, and stop() leaves no timer, socket or process;
 * - every meter id is the poller's id or begins with `<id>/`, and is in meters();
 * - readings make meter windows the server accepts; values the device does
 *   not report are absent, never 0;
 * - a failing or hanging device is counted, and delays no other poller;
 * - stop() during a poll in flight resolves promptly.
 */
import { expect, it } from 'vitest';
import { MeterWindows } from '../../collector/meters/meter-windows.js';
import type { MeterField, MeterReading } from '../../collector/meters/reading.js';
import { STOP_GRACE_MS } from '../../collector/pollers/poll-loop.js';
import type { MeterPoller } from '../../collector/pollers/poller.js';
import { validateInfo, validateMeterWindow } from '../../protocol/validate.js';

export type ContractDevice = 'healthy' | 'failing' | 'hanging';

export interface PollerFixture {
  /** A poller of this kind, named `id`, polling a device that behaves as `device`. */
  create(id: string, device: ContractDevice, timing: { interval_ms: number; timeout_ms: number }): Promise<MeterPoller>;
  /** Fields the healthy device does not report; `meter` is a suffix of the poller id ('' for the id itself, '/psu-0' for a part). */
  absent: { meter: string; field: MeterField }[];
  /** Fields it does report: proves the absent checks name real meters and fields. */
  present: { meter: string; field: MeterField }[];
  cleanup?(): Promise<void>;
}

const FAST = { interval_ms: 250, timeout_ms: 300 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(probe: () => T | undefined | false, ms: number, what: string): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`);
    await sleep(20);
  }
}

function collect(p: MeterPoller) {
  const got: { reading: MeterReading; at: number }[] = [];
  const began = Date.now();
  p.start((reading, at) => got.push({ reading, at }));
  return { got, startMs: Date.now() - began };
}

/** Timers, sockets, child processes and servers alive now, by kind. */
function resources(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of process.getActiveResourcesInfo()) out[r] = (out[r] ?? 0) + 1;
  return out;
}

export function meterPollerContract(fixture: () => Promise<PollerFixture>): void {
  const withFixture = (test: (f: PollerFixture, pollers: MeterPoller[]) => Promise<void>) => async () => {
    const f = await fixture();
    const pollers: MeterPoller[] = [];
    try {
      await test(f, pollers);
    } finally {
      await Promise.all(pollers.map((p) => p.stop()));
      await f.cleanup?.();
    }
  };
  const make = async (f: PollerFixture, pollers: MeterPoller[], id: string, device: ContractDevice, timing = FAST) => {
    const p = await f.create(id, device, timing);
    pollers.push(p);
    return p;
  };

  it('starts at once, names every meter after its id, and lists them in an inventory the protocol accepts', withFixture(async (f, pollers) => {
    const p = await make(f, pollers, 'contract-a', 'healthy');
    const { got, startMs } = collect(p);
    expect(startMs).toBeLessThan(50);
    await until(() => got.length >= 2, 5000, 'two readings');
    for (const { reading } of got) expect(reading.meter === p.id || reading.meter.startsWith(`${p.id}/`), reading.meter).toBe(true);
    const meters = p.meters();
    expect(meters.every((m) => m.kind === p.kind)).toBe(true);
    for (const { reading } of got) expect(meters.map((m) => m.id)).toContain(reading.meter);
    const info = validateInfo({ v: 1, boot_id: 'contract', ts: 0, simulated: false, gpus: [], meters });
    expect(info.ok ? 'ok' : info.detail).toBe('ok');
  }));

  it('gives readings that make valid meter windows, with what the device does not report absent, not 0', withFixture(async (f, pollers) => {
    const p = await make(f, pollers, 'contract-b', 'healthy');
    const { got } = collect(p);
    const wanted = [...new Set([...f.present, ...f.absent].map((x) => `${p.id}${x.meter}`))];
    await until(() => wanted.every((m) => got.some((g) => g.reading.meter === m)) && got.length >= 4, 5000, `readings of ${wanted.join(', ')}`);
    const windows = new MeterWindows(1000);
    for (const { reading, at } of got) windows.add(reading, at);
    for (const { meter, body } of windows.takeAll()) {
      const checked = validateMeterWindow({ v: 1, boot_id: 'contract', seq: 0, first_seq: 0, ...body });
      expect(checked.ok ? 'ok' : `${meter}: ${checked.detail}`).toBe('ok');
    }
    const last = (suffix: string) => got.filter((g) => g.reading.meter === `${p.id}${suffix}`).at(-1)!.reading;
    for (const { meter, field } of f.present) expect(last(meter), `${field} of ${p.id}${meter}`).toHaveProperty(field);
    for (const { meter, field } of f.absent) expect(last(meter), `${field} of ${p.id}${meter} must be absent`).not.toHaveProperty(field);
    for (const { reading } of got) for (const v of Object.values(reading)) if (typeof v === 'number') expect(Number.isFinite(v)).toBe(true);
  }));

  it('counts a failing and a hanging device, and neither delays a healthy poller beside them', withFixture(async (f, pollers) => {
    const healthy = await make(f, pollers, 'contract-ok', 'healthy');
    const failing = await make(f, pollers, 'contract-fail', 'failing');
    const hanging = await make(f, pollers, 'contract-hang', 'hanging');
    const ok = collect(healthy);
    const bad = [collect(failing), collect(hanging)];
    // Long enough for the hanging device's first poll to reach its deadline, even with a longer first (discovering) one.
    await until(() => failing.health().error! >= 2 && hanging.health().timeout! >= 2, 8000, 'failures counted');
    expect(bad.map((b) => b.got.length)).toEqual([0, 0]);
    const own = ok.got.filter((g) => g.reading.meter === healthy.id);
    expect(own.length).toBeGreaterThanOrEqual(3);
    const gaps = own.slice(1).map((g, i) => g.at - own[i]!.at);
    expect(Math.max(...gaps), `gaps between readings of the healthy poller: ${gaps.join(', ')} ms`).toBeLessThan(FAST.interval_ms + 350);
    expect(healthy.health()).toMatchObject({ error: 0, timeout: 0 });
  }));

  it('stop() during a poll in flight resolves promptly', withFixture(async (f, pollers) => {
    const p = await make(f, pollers, 'contract-stop', 'hanging', { interval_ms: 250, timeout_ms: 60_000 });
    collect(p);
    await sleep(300);
    expect(p.health().polls).toBeGreaterThanOrEqual(1);
    const began = Date.now();
    await p.stop();
    expect(Date.now() - began).toBeLessThan(STOP_GRACE_MS + 200);
  }));

  it('leaves no timer, socket or process behind after stop(), and emits nothing more', withFixture(async (f) => {
    const p = await f.create('contract-leak', 'healthy', FAST);
    // Counted once the device runs: its own server is not the poller's. A constructor only assigns (§6.7).
    const before = resources();
    const { got } = collect(p);
    await until(() => got.length >= 2, 5000, 'two readings');
    await p.stop();
    const after = got.length;
    // Sockets close a moment after stop() on the device's side; soon after, no kind of resource may be above
    // its count before start (below is fine: what earlier cases left closing may have closed meanwhile).
    const grown = () => Object.entries(resources()).filter(([kind, n]) => n > (before[kind] ?? 0));
    await until(() => grown().length === 0, 3000, `resources back to ${JSON.stringify(before)}`).catch((err: Error) => {
      throw new Error(`${err.message}; still above: ${JSON.stringify(grown())}`);
    });
    await sleep(FAST.interval_ms * 2);
    expect(got.length).toBe(after);
  }));
}
