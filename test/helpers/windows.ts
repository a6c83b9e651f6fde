/** Well-formed protocol payloads for tests, with overrides. */
import type { GpuWindow, HostInfo, HostStatus, MeterWindow } from '../../protocol/payloads.js';

export function stat(mean: number, spread = 0) {
  return { min: mean - spread, max: mean + spread, mean, last: mean, n: 10 };
}

export function gpuWindow(over: Partial<GpuWindow> = {}): GpuWindow {
  return {
    v: 1,
    boot_id: 'b00t',
    seq: 5,
    first_seq: 0,
    ts: 1_764_000_000_000,
    window_ms: 1000,
    host_power_w: stat(900, 50),
    gpus: [
      { id: 'GPU-aaaa', power_w: stat(500, 20), energy_mj: 1_000_000, util_pct: stat(90), power_limit_w: 700 },
      { id: 'GPU-bbbb', power_w: stat(400, 30), energy_mj: 2_000_000, util_pct: stat(70), power_limit_w: 700 },
    ],
    ...over,
  };
}

/** The protocol's own example: a solar inverter exporting about 2 kW over 10 s. */
export function meterWindow(over: Partial<MeterWindow> = {}): MeterWindow {
  return {
    v: 1, boot_id: 'b00t', seq: 311, first_seq: 300, ts: 1_764_000_000_000, window_ms: 10_000,
    power_w: { min: -2061.0, max: -2039.6, mean: -2050.3, last: -2039.6, n: 2 },
    energy_import_wh: 18234410.5, energy_export_wh: 5120077.0,
    voltage_v: { min: 229.8, max: 230.4, mean: 230.1, last: 230.4, n: 2 },
    current_a: { min: 8.9, max: 9.0, mean: 8.95, last: 8.9, n: 2 },
    pf: { min: 0.97, max: 0.98, mean: 0.975, last: 0.98, n: 2 },
    ...over,
  };
}

export function status(over: Partial<HostStatus> = {}): HostStatus {
  return { v: 1, state: 'online', boot_id: 'b00t', ts: 1_764_000_000_000, version: '0.1.0', sources: ['sim'], ...over };
}

export function info(over: Partial<HostInfo> = {}): HostInfo {
  return {
    v: 1, boot_id: 'b00t', ts: 1_764_000_000_000, simulated: true, meters: [],
    gpus: [{ id: 'GPU-aaaa', index: 0, name: 'sim', power_limit_w: 700, supports: { energy_counter: true, instant_power: true } }],
    ...over,
  };
}

/** The JSON of a gpu window with one field of GPU 0's power replaced by raw JSON text (null, "NaN", 1e999 ...). */
export function windowWithRawPower(field: 'mean' | 'min' | 'max' | 'last', rawJson: string): string {
  const marker = '"__RAW__"';
  const w = gpuWindow();
  (w.gpus[0]!.power_w as unknown as Record<string, unknown>)[field] = '__RAW__';
  return JSON.stringify(w).replace(marker, rawJson);
}
