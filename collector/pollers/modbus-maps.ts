/**
 * Register maps for the modbus poller: the built-in Eastron SDM630 and the
 * custom map of a pollers entry (`registers:`).
 *
 * Eastron SDM630 (Modbus, MID V2 and the CT variants), from "Eastron SDM630
 * Modbus Smart Meter Modbus Protocol Implementation" (input registers, function
 * code 04): every parameter is a 4-byte IEEE 754 float in two registers, the
 * high register first; addresses below are the protocol addresses (the
 * document's "30001" is address 0). Energies are "since last reset" in kWh
 * (the document's note 2: MWh only on some CT-connected models, which need a
 * custom map with unit MWh). The total system power is signed: negative while
 * the meter exports.
 */
import type { MeterField } from '../meters/reading.js';
import { isObject } from '../meters/reading.js';
import { type RegisterPoint, type RegisterTable, type RegisterType, UNITS, type WordOrder } from './parse-modbus.js';

const f32 = (name: string, address: number, field: MeterField, unit: string, phase?: string): RegisterPoint => ({
  name, table: 'input', address, type: 'float32', wordOrder: 'big', scale: 1, unit, field, ...(phase && { phase }),
});

export const SDM630: readonly RegisterPoint[] = [
  f32('Phase 1 line to neutral volts', 0x00, 'voltage_v', 'V', 'L1'),
  f32('Phase 2 line to neutral volts', 0x02, 'voltage_v', 'V', 'L2'),
  f32('Phase 3 line to neutral volts', 0x04, 'voltage_v', 'V', 'L3'),
  f32('Phase 1 current', 0x06, 'current_a', 'A', 'L1'),
  f32('Phase 2 current', 0x08, 'current_a', 'A', 'L2'),
  f32('Phase 3 current', 0x0a, 'current_a', 'A', 'L3'),
  f32('Phase 1 power', 0x0c, 'power_w', 'W', 'L1'),
  f32('Phase 2 power', 0x0e, 'power_w', 'W', 'L2'),
  f32('Phase 3 power', 0x10, 'power_w', 'W', 'L3'),
  f32('Phase 1 power factor', 0x1e, 'pf', '', 'L1'),
  f32('Phase 2 power factor', 0x20, 'pf', '', 'L2'),
  f32('Phase 3 power factor', 0x22, 'pf', '', 'L3'),
  f32('Average line to neutral volts', 0x2a, 'voltage_v', 'V'),
  f32('Sum of line currents', 0x30, 'current_a', 'A'),
  f32('Total system power', 0x34, 'power_w', 'W'),
  f32('Total system power factor', 0x3e, 'pf', ''),
  f32('Import Wh since last reset', 0x48, 'energy_import_wh', 'kWh'),
  f32('Export Wh since last reset', 0x4a, 'energy_export_wh', 'kWh'),
];

export const MODBUS_MAPS: Readonly<Record<string, readonly RegisterPoint[]>> = Object.freeze({ sdm630: SDM630 });

const TYPES: readonly RegisterType[] = ['int16', 'uint16', 'int32', 'uint32', 'float32'];
const POINT_KEYS = ['name', 'table', 'address', 'type', 'word_order', 'scale', 'unit', 'field', 'phase'];
/** A custom map longer than this is a mistake in the config, not a meter. */
export const MAX_POINTS = 256;

/**
 * The points an entry asks for: a built-in map (`map: sdm630`) or its own
 * `registers: [{address, type, unit, field, scale?, word_order?, table?, phase?, name?}]`,
 * with every problem listed. `table` defaults to the entry's `table` (holding).
 */
export function pointsFromEntry(entry: Readonly<Record<string, unknown>>, where: string): { ok: true; points: RegisterPoint[] } | { ok: false; problems: string[] } {
  const problems: string[] = [];
  if ((entry.map === undefined) === (entry.registers === undefined)) {
    return { ok: false, problems: [`${where}: needs exactly one of map (${Object.keys(MODBUS_MAPS).join(', ')}) or registers`] };
  }
  if (entry.map !== undefined) {
    const map = typeof entry.map === 'string' ? MODBUS_MAPS[entry.map] : undefined;
    return map ? { ok: true, points: [...map] } : { ok: false, problems: [`${where}: map must be one of ${Object.keys(MODBUS_MAPS).join(', ')}, got ${JSON.stringify(entry.map)}`] };
  }
  const list = entry.registers;
  if (!Array.isArray(list) || list.length === 0 || list.length > MAX_POINTS) return { ok: false, problems: [`${where}: registers must be a list of 1 to ${MAX_POINTS} {address, type, unit, field} entries`] };
  const defaultTable = entry.table ?? 'holding';
  if (defaultTable !== 'holding' && defaultTable !== 'input') problems.push(`${where}: table must be holding or input, got ${JSON.stringify(entry.table)}`);
  const points = list.map((raw, i): RegisterPoint => {
    const at = `${where}: registers[${i}]`;
    const o = isObject(raw) ? raw : {};
    if (!isObject(raw)) problems.push(`${at} must be a mapping`);
    for (const key of Object.keys(o)) if (!POINT_KEYS.includes(key)) problems.push(`${at}: unknown setting ${JSON.stringify(key)} (known: ${POINT_KEYS.join(', ')})`);
    const address = o.address;
    if (typeof address !== 'number' || !Number.isInteger(address) || address < 0 || address > 65535) problems.push(`${at}.address must be a register address from 0 to 65535`);
    const type = o.type as RegisterType;
    if (!TYPES.includes(type)) problems.push(`${at}.type must be one of ${TYPES.join(', ')}`);
    const field = o.field as MeterField;
    const units = UNITS[field] as Readonly<Record<string, number>> | undefined;
    if (!units) problems.push(`${at}.field must be one of ${Object.keys(UNITS).join(', ')}`);
    const unit = o.unit ?? (field === 'pf' ? '' : undefined);
    if (units && (typeof unit !== 'string' || units[unit] === undefined)) problems.push(`${at}.unit for ${field} must be one of ${Object.keys(units).map((u) => JSON.stringify(u)).join(', ')}`);
    const scale = o.scale ?? 1;
    if (typeof scale !== 'number' || !Number.isFinite(scale) || scale === 0) problems.push(`${at}.scale must be a non-zero number`);
    const wordOrder = (o.word_order ?? 'big') as WordOrder;
    if (wordOrder !== 'big' && wordOrder !== 'little') problems.push(`${at}.word_order must be big (high word first) or little`);
    const table = (o.table ?? defaultTable) as RegisterTable;
    if (table !== 'holding' && table !== 'input') problems.push(`${at}.table must be holding or input`);
    if (o.phase !== undefined && (typeof o.phase !== 'string' || !/^[A-Za-z0-9]{1,8}$/.test(o.phase))) problems.push(`${at}.phase must be a short name such as L1`);
    return {
      name: typeof o.name === 'string' ? o.name.slice(0, 64) : `register ${String(address)}`,
      table, address: Number(address), type, wordOrder, scale: Number(scale), unit: String(unit), field,
      ...(typeof o.phase === 'string' && { phase: o.phase }),
    };
  });
  return problems.length ? { ok: false, problems } : { ok: true, points };
}
