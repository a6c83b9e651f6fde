/**
 * The modbus poller against Modbus TCP servers started in the test: jsmodbus'
 * server (an implementation independent of kilowatch's client) holding an
 * SDM630's input registers that change between polls, and small node:net
 * servers that misbehave: silent, late, exception-raising, not Modbus at all.
 */
import { type AddressInfo, type Server, type Socket, createServer } from 'node:net';
import Modbus from 'jsmodbus';
import { afterEach, describe, expect, it } from 'vitest';
import { MeterWindows } from '../../../collector/meters/meter-windows.js';
import type { MeterReading } from '../../../collector/meters/reading.js';
import type { ModbusPoller } from '../../../collector/pollers/modbus.js';
import { createPollers, parsePollersFile } from '../../../collector/pollers/registry.js';

const servers: Server[] = [];
const sockets: Socket[] = [];
afterEach(async () => {
  sockets.splice(0).forEach((s) => s.destroy());
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

async function listen(server: Server): Promise<number> {
  servers.push(server);
  server.on('connection', (s) => sockets.push(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
}

const logs: string[] = [];
function make(entry: Record<string, unknown>): ModbusPoller {
  const parsed = parsePollersFile(JSON.stringify([{ kind: 'modbus', id: 'panel-a', host: '127.0.0.1', ...entry }]), 'pollers.yaml');
  if (!parsed.ok) throw new Error(parsed.problems.join('\n'));
  return createPollers(parsed.entries, { now: Date.now, log: (l) => logs.push(l) })[0] as ModbusPoller;
}

/** Collects readings until `n` arrived (or the poller had its chance), then stops the poller. */
async function run(p: ModbusPoller, ms: number, onReading: (r: MeterReading, atMs: number) => void = () => {}): Promise<MeterReading[]> {
  const got: MeterReading[] = [];
  p.start((r, at) => (got.push(r), onReading(r, at)));
  await new Promise((r) => setTimeout(r, ms));
  await p.stop();
  return got;
}

function setFloat(buf: Buffer, address: number, value: number): void {
  buf.writeFloatBE(value, address * 2); // high register first, as the SDM630 sends it
}

describe('modbus poller', () => {
  it('reads an SDM630 whose registers change between polls: values, units, and an energy counter that adds up', async () => {
    const input = Buffer.alloc(0x4c * 2);
    const server = createServer();
    new Modbus.server.TCP(server, { input });
    const port = await listen(server);
    // Each poll is one simulated hour at the step's power: the import counter (kWh) grows by power x 1 h.
    const watts = [2000, 3500, 1250.5, 4000];
    let kwh = 1000;
    const apply = (i: number) => {
      setFloat(input, 0x34, watts[i]!);
      setFloat(input, 0x00, 230 + i);
      setFloat(input, 0x06, watts[i]! / 230);
      setFloat(input, 0x3e, 0.95);
      setFloat(input, 0x48, kwh);
      setFloat(input, 0x4a, 0.5);
      kwh += watts[i]! / 1000;
    };
    apply(0);
    const p = make({ port, map: 'sdm630', interval_ms: 600, timeout_ms: 400 });
    const windows = new MeterWindows(500);
    let step = 0;
    const got = await new Promise<MeterReading[]>((resolve) => {
      const all: MeterReading[] = [];
      p.start((r, at) => {
        all.push(r);
        windows.add(r, at);
        if (++step < watts.length) apply(step);
        else void p.stop().then(() => resolve(all));
      });
    });

    expect(got.map((r) => r.power_w)).toEqual(watts);
    expect(got.map((r) => r.energy_import_wh)).toEqual([1_000_000, 1_002_000, 1_005_500, 1_006_750.5]);
    expect(got[0]).toMatchObject({ meter: 'panel-a', pf: 0.95, energy_export_wh: 500 });
    expect(got[0]!.phases![0]).toEqual({ phase: 'L1', voltage_v: 230, current_a: 8.695652, power_w: 0, pf: 0 }); // 2000 / 230 as a float32
    expect(got[3]!.phases![0]!.voltage_v).toBe(233);
    const published = windows.takeAll().map((w) => w.body);
    expect(published.map((b) => b.power_w?.last)).toEqual(watts);
    const deltas = published.slice(1).map((b, i) => b.energy_import_wh! - published[i]!.energy_import_wh!);
    expect(deltas).toEqual(watts.slice(0, -1)); // Wh = W x 1 h
    expect(p.health()).toMatchObject({ ok: 4, timeout: 0, error: 0, readings: 4, connects: 1, stale_frames: 0 });
    expect(p.meters()).toEqual([{ id: 'panel-a', kind: 'modbus', name: `Modbus meter at 127.0.0.1:${port} unit 1`, supports: { energy_counter: true, instant_power: true } }]);
  });

  it('reads holding registers of a custom map in its own word order and units', async () => {
    const holding = Buffer.alloc(20);
    holding.writeUInt16BE(0x86a0, 0); // 100000 tenths of kWh, low word first
    holding.writeUInt16BE(0x0001, 2);
    holding.writeInt16BE(-1500, 4); // -1500 W: exporting
    const server = createServer();
    new Modbus.server.TCP(server, { holding });
    const port = await listen(server);
    const p = make({ port, registers: [
      { address: 0, type: 'uint32', word_order: 'little', scale: 0.1, unit: 'kWh', field: 'energy_export_wh' },
      { address: 2, type: 'int16', unit: 'W', field: 'power_w' },
    ], interval_ms: 500, timeout_ms: 300 });
    const got = await run(p, 300);
    expect(got).toEqual([{ meter: 'panel-a', energy_export_wh: 10_000_000, power_w: -1500 }]);
  });

  it('counts a meter that never answers as a timeout at each deadline, and stops at once', async () => {
    const port = await listen(createServer(() => undefined));
    const p = make({ port, map: 'sdm630', interval_ms: 500, timeout_ms: 200 });
    const got: MeterReading[] = [];
    p.start((r) => got.push(r));
    await new Promise((r) => setTimeout(r, 1100));
    const stopping = Date.now();
    await p.stop();
    expect(Date.now() - stopping).toBeLessThan(300);
    expect(got).toEqual([]);
    const h = p.health();
    expect(h.timeout).toBeGreaterThanOrEqual(2);
    expect(h.timeout).toBeGreaterThanOrEqual(h.polls! - 1); // the last may still be in flight at stop
    expect(h).toMatchObject({ ok: 0, error: 0 });
    expect(logs).toContain(`collector pollers: modbus panel-a (127.0.0.1:${port} unit 1): timeout: no answer within 200 ms`);
  });

  it('never takes a late answer for the next request: a timed-out request costs its connection', async () => {
    let requests = 0;
    const port = await listen(createServer((s) => s.on('data', (req: Buffer) => {
      const n = ++requests;
      const answer = Buffer.from([req[0]!, req[1]!, 0, 0, 0, 5, req[6]!, req[7]!, 2, 0, n]);
      setTimeout(() => s.writable && s.write(answer), n === 1 ? 400 : 5); // the first answer comes after its deadline
    })));
    const p = make({ port, registers: [{ address: 0, type: 'uint16', unit: 'W', field: 'power_w' }], interval_ms: 300, timeout_ms: 150 });
    const got = await run(p, 1000);
    expect(got.length).toBeGreaterThanOrEqual(2);
    expect(got.map((r) => r.power_w)).toEqual(got.map((_, i) => i + 2)); // answer 1 is never a reading
    expect(p.health()).toMatchObject({ timeout: 1, connects: 2 }); // the connection of the timed-out request was dropped
  });

  it('counts an exception answer, a short answer and a peer that does not speak Modbus TCP as errors, with the reason logged', async () => {
    const errorsOf = async (port: number) => {
      const p = make({ port, map: 'sdm630', interval_ms: 500, timeout_ms: 300 });
      expect(await run(p, 200)).toEqual([]);
      expect(p.health()).toMatchObject({ error: 1, ok: 0 });
    };
    // Exception 02, illegal data address (MODBUS Application Protocol §7): function | 0x80, then the code.
    await errorsOf(await listen(createServer((s) => s.on('data', (req: Buffer) => s.write(Buffer.from([req[0]!, req[1]!, 0, 0, 0, 3, req[6]!, req[7]! | 0x80, 2]))))));
    expect(logs.at(-1)).toMatch(/modbus panel-a .*: error: exception 2 \(illegal data address\) reading input registers 0\.\.75$/);
    // jsmodbus' server answers a read past its registers with fewer bytes than asked, not with an exception.
    const short = createServer();
    new Modbus.server.TCP(short, { input: Buffer.alloc(8) });
    await errorsOf(await listen(short));
    expect(logs.at(-1)).toMatch(/error: answer of 8 bytes for 76 registers$/);
    await errorsOf(await listen(createServer((s) => s.once('data', () => s.write('HTTP/1.1 400 Bad Request\r\n\r\n')))));
    expect(logs.at(-1)).toMatch(/error: not a Modbus TCP frame/);
  });

  it('lists every problem of a bad entry', () => {
    const parsed = parsePollersFile(JSON.stringify([{ kind: 'modbus', id: 'm', unit_id: 300, map: 'sdm630', registers: [], baud: 9600 }]), 'pollers.yaml');
    expect(parsed.ok ? [] : parsed.problems).toEqual([
      'pollers.yaml: entry 1 (id "m"): unknown setting "baud" for kind modbus (known: kind, id, interval_ms, timeout_ms, host, port, unit_id, map, registers, table, max_registers_per_read)',
      'pollers.yaml: entry 1 (id "m"): host is required',
      'pollers.yaml: entry 1 (id "m"): unit_id must be an integer from 0 to 255, got 300',
      'pollers.yaml: entry 1 (id "m"): needs exactly one of map (sdm630) or registers',
    ]);
  });
});
