/**
 * The simulated site's power meters, so the demo shows facility overhead and
 * a two-source mix: one PDU meter per rack of 4 hosts, reading its GPUs plus
 * host and cooling overhead; a fuel cell that follows the load up to its
 * capacity; and the grid supplying the rest. Pure: GPU power per host in,
 * meter readings out.
 */
import type { MeterInfo } from '../../protocol/payloads.js';
import type { MeterReading } from '../meters/reading.js';

export const SIM_RACK_HOSTS = 4;
/** The fuel cell's capacity: the simulated fleet (about 25 kW at the wall) nears it at busy times. */
export const SIM_FUEL_CELL_W = 14_000;
/** Fans, CPUs, NICs and cooling on top of the GPUs: a PUE-like 1.3 plus 500 W per host. */
const OVERHEAD_FACTOR = 1.3;
const HOST_BASE_W = 500;

export function simMeterInfo(hosts: number): MeterInfo[] {
  const racks = Math.ceil(hosts / SIM_RACK_HOSTS);
  const meter = (id: string, name: string): MeterInfo => ({ id, kind: 'sim', name, supports: { energy_counter: false, instant_power: true } });
  return [
    ...Array.from({ length: racks }, (_, r) => meter(`rack-${r}-pdu`, `simulated PDU of rack ${r}`)),
    meter('fuel-cell', 'simulated on-site fuel cell'),
    meter('grid-main', 'simulated grid connection'),
  ];
}

/** `gpuWatts[h]`: the summed GPU power of host h now. */
export function simMeterReadings(gpuWatts: readonly number[]): MeterReading[] {
  const racks: number[] = [];
  gpuWatts.forEach((w, h) => {
    const r = Math.floor(h / SIM_RACK_HOSTS);
    racks[r] = (racks[r] ?? 0) + w * OVERHEAD_FACTOR + HOST_BASE_W;
  });
  const site = racks.reduce((a, b) => a + b, 0);
  // Half the load: near its capacity when the fleet is busy, well below it when idle (the demo budget alert fires at times).
  const fuel = Math.min(site * 0.5, SIM_FUEL_CELL_W);
  return [
    ...racks.map((w, r) => ({ meter: `rack-${r}-pdu`, power_w: w })),
    { meter: 'fuel-cell', power_w: fuel },
    { meter: 'grid-main', power_w: site - fuel },
  ];
}
