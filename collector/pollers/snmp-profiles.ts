/**
 * Built-in SNMP profiles for rack PDUs: which OIDs hold power and energy, and
 * in which unit the vendor's MIB states them. Written from the MIB texts
 * themselves (object names and DESCRIPTION / UNITS clauses cited below), not
 * from other monitoring tools.
 *
 * A profile lists tables and scalars:
 * - a table is walked column by column; every row (the OID suffix after the
 *   column, e.g. `.1` or `.1.1.7`) becomes its own meter, `<poller>/<table>-<row>`;
 * - a scalar is one exact OID that goes to one field of one meter: the
 *   poller's own id, or `<poller>/<meter>` when it names one (the shape of a
 *   custom OID map from config).
 *
 * `scale` converts the raw integer to the kilowatch unit of the field (W, Wh,
 * V, A, ratio). `absent` is a raw value the MIB defines as "not supported",
 * which becomes an absent value, never 0 (ARCHITECTURE.md §3).
 */
import type { MeterField } from '../meters/reading.js';

export interface SnmpColumn {
  /** The MIB object name, for logs and comments. */
  object: string;
  /** The column's OID (the table entry's OID plus the column number), without the row suffix. */
  oid: string;
  field: MeterField;
  scale: number;
  /** A raw value the MIB reserves for "not supported by this model". */
  absent?: number;
}

export interface SnmpTable {
  /** The meter kind in meter ids: `device`, `phase`, `outlet`, `cord`. */
  name: string;
  columns: SnmpColumn[];
  /** A text column naming the row (an outlet's user label), used as the meter's name. */
  nameColumn?: { object: string; oid: string };
}

export interface SnmpScalar {
  oid: string;
  /** Meter id suffix: the meter is `<poller>/<meter>`; absent, the poller's own id. */
  meter?: string;
  field: MeterField;
  scale: number;
  absent?: number;
}

export interface SnmpProfile {
  name: string;
  /** The MIB the OIDs come from. */
  mib: string;
  tables: SnmpTable[];
  scalars: SnmpScalar[];
}

/**
 * APC / Schneider PowerNet-MIB, rPDU2 branch (AP7xxx/AP8xxx rack PDUs):
 * rPDU2 ::= { hardware 26 } = .1.3.6.1.4.1.318.1.1.26.
 */
const RPDU2 = '1.3.6.1.4.1.318.1.1.26';
// rPDU2DeviceStatusEntry ::= { rPDU2DeviceStatusTable 1 }, rPDU2DeviceStatusTable ::= { rPDU2Device 3 }, rPDU2Device ::= { rPDU2 4 }
const RPDU2_DEVICE = `${RPDU2}.4.3.1`;
// rPDU2PhaseStatusEntry ::= { rPDU2PhaseStatusTable 1 }, rPDU2PhaseStatusTable ::= { rPDU2Phase 3 }, rPDU2Phase ::= { rPDU2 6 }
const RPDU2_PHASE = `${RPDU2}.6.3.1`;
// rPDU2OutletMeteredStatusEntry ::= { rPDU2OutletMeteredStatusTable 1 } ::= { rPDU2OutletMetered 3 },
// rPDU2OutletMetered ::= { rPDU2Outlet 4 }, rPDU2Outlet ::= { rPDU2 9 }
const RPDU2_OUTLET = `${RPDU2}.9.4.3.1`;

export const APC_RPDU2: SnmpProfile = {
  name: 'apc-rpdu2',
  mib: 'PowerNet-MIB (rPDU2)',
  tables: [
    {
      name: 'device',
      nameColumn: { object: 'rPDU2DeviceStatusName', oid: `${RPDU2_DEVICE}.3` },
      columns: [
        // "The power consumption of the Rack PDU load in hundredths of kilowatts. Models that do not
        // support this feature will respond to this OID with a value of -1." 1/100 kW = 10 W.
        { object: 'rPDU2DeviceStatusPower', oid: `${RPDU2_DEVICE}.5`, field: 'power_w', scale: 10, absent: -1 },
        // "A user resettable energy meter measuring Rack PDU load energy consumption in tenths of
        // kilowatt-hours ... -1" if unsupported. 1/10 kWh = 100 Wh. A reset shows as a counter reset.
        { object: 'rPDU2DeviceStatusEnergy', oid: `${RPDU2_DEVICE}.9`, field: 'energy_import_wh', scale: 100, absent: -1 },
        // "The power factor of the Rack PDU load in hundredths ... -1" if unsupported.
        { object: 'rPDU2DeviceStatusPowerFactor', oid: `${RPDU2_DEVICE}.17`, field: 'pf', scale: 0.01, absent: -1 },
      ],
    },
    {
      name: 'phase',
      columns: [
        // "the current draw, in tenths of Amps, of the load on the Rack PDU phase"
        { object: 'rPDU2PhaseStatusCurrent', oid: `${RPDU2_PHASE}.5`, field: 'current_a', scale: 0.1 },
        // "the Voltage, in Volts, of the Rack PDU phase ... -1" if unsupported
        { object: 'rPDU2PhaseStatusVoltage', oid: `${RPDU2_PHASE}.6`, field: 'voltage_v', scale: 1, absent: -1 },
        // "the load power, in hundredths of kilowatts (kW), consumed on the Rack PDU phase ... -1"
        { object: 'rPDU2PhaseStatusPower', oid: `${RPDU2_PHASE}.7`, field: 'power_w', scale: 10, absent: -1 },
        // "the load power factor, in hundredths ... -1"
        { object: 'rPDU2PhaseStatusPowerFactor', oid: `${RPDU2_PHASE}.9`, field: 'pf', scale: 0.01, absent: -1 },
      ],
    },
    {
      name: 'outlet',
      nameColumn: { object: 'rPDU2OutletMeteredStatusName', oid: `${RPDU2_OUTLET}.3` },
      columns: [
        // "the current draw, in tenths of Amps, of the load on the Rack PDU outlet"
        { object: 'rPDU2OutletMeteredStatusCurrent', oid: `${RPDU2_OUTLET}.6`, field: 'current_a', scale: 0.1 },
        // "the power draw of the load on the Rack PDU outlet": watts (the outlet thresholds of the same
        // branch, rPDU2OutletMeteredConfig*Threshold, are "in Watts").
        { object: 'rPDU2OutletMeteredStatusPower', oid: `${RPDU2_OUTLET}.7`, field: 'power_w', scale: 1 },
        // "A user resettable energy meter measuring Rack PDU load energy consumption in tenths of kilowatt-hours"
        { object: 'rPDU2OutletMeteredStatusEnergy', oid: `${RPDU2_OUTLET}.11`, field: 'energy_import_wh', scale: 100 },
      ],
    },
  ],
  scalars: [],
};

/**
 * ServerTech (Legrand) Sentry4-MIB, PRO2/PRO3 PDUs: st4Objects = .1.3.6.1.4.1.1718.4.1.
 * Every value column is Integer32(-1..n) with its unit in a UNITS clause; -1 is "no reading".
 */
const ST4 = '1.3.6.1.4.1.1718.4.1';
// st4InputCordMonitorEntry ::= { st4InputCordMonitorTable 1 } ::= { st4InputCords 3 }, st4InputCords ::= { st4Objects 3 };
// INDEX { st4UnitIndex, st4InputCordIndex }
const ST4_CORD = `${ST4}.3.3.1`;
// st4OutletMonitorEntry ::= { st4OutletMonitorTable 1 } ::= { st4Outlets 3 }, st4Outlets ::= { st4Objects 8 };
// INDEX { st4UnitIndex, st4InputCordIndex, st4OutletIndex }
const ST4_OUTLET = `${ST4}.8.3.1`;

export const SENTRY4: SnmpProfile = {
  name: 'sentry4',
  mib: 'Sentry4-MIB',
  tables: [
    {
      name: 'cord',
      columns: [
        // UNITS "Watts": "The measured active power of the input cord in Watts."
        { object: 'st4InputCordActivePower', oid: `${ST4_CORD}.3`, field: 'power_w', scale: 1, absent: -1 },
        // UNITS "hundredths": "The measured power factor of the input cord in hundredths."
        { object: 'st4InputCordPowerFactor', oid: `${ST4_CORD}.8`, field: 'pf', scale: 0.01, absent: -1 },
        // UNITS "tenth Kilowatt-Hours": "The total energy consumption of loads through the input cord"
        { object: 'st4InputCordEnergy', oid: `${ST4_CORD}.10`, field: 'energy_import_wh', scale: 100, absent: -1 },
      ],
    },
    {
      name: 'outlet',
      columns: [
        // UNITS "hundredth Amps"
        { object: 'st4OutletCurrent', oid: `${ST4_OUTLET}.3`, field: 'current_a', scale: 0.01, absent: -1 },
        // UNITS "tenth Volts"
        { object: 'st4OutletVoltage', oid: `${ST4_OUTLET}.6`, field: 'voltage_v', scale: 0.1, absent: -1 },
        // UNITS "Watts"
        { object: 'st4OutletActivePower', oid: `${ST4_OUTLET}.7`, field: 'power_w', scale: 1, absent: -1 },
        // UNITS "hundredths"
        { object: 'st4OutletPowerFactor', oid: `${ST4_OUTLET}.10`, field: 'pf', scale: 0.01, absent: -1 },
        // UNITS "Watt-Hours": "The total energy consumption of the device plugged into the outlet"
        { object: 'st4OutletEnergy', oid: `${ST4_OUTLET}.14`, field: 'energy_import_wh', scale: 1, absent: -1 },
      ],
    },
  ],
  scalars: [],
};

export const SNMP_PROFILES: Readonly<Record<string, SnmpProfile>> = Object.freeze({
  [APC_RPDU2.name]: APC_RPDU2,
  [SENTRY4.name]: SENTRY4,
});

/** Every OID a profile reads: the walked columns (with the name columns) and the scalars. */
export function profileOids(p: SnmpProfile): { walk: string[]; get: string[] } {
  const walk = p.tables.flatMap((t) => [...(t.nameColumn ? [t.nameColumn.oid] : []), ...t.columns.map((c) => c.oid)]);
  return { walk, get: p.scalars.map((s) => s.oid) };
}

const FIELDS: readonly string[] = ['power_w', 'energy_import_wh', 'energy_export_wh', 'voltage_v', 'current_a', 'pf'];
const OID = /^\.?\d+(?:\.\d+)+$/;
const METER_SUFFIX = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** A custom map longer than this is a mistake in the config, not a PDU. */
export const MAX_CUSTOM_OIDS = 512;

/**
 * The profile a poller entry asks for: a built-in one (`profile`), a custom OID
 * map (`oids: [{oid, field, scale?, meter?, absent?}]`), or both, the custom
 * OIDs added to the built-in ones. Every problem is listed.
 */
export function profileFromEntry(entry: Readonly<Record<string, unknown>>, where: string): { ok: true; profile: SnmpProfile } | { ok: false; problems: string[] } {
  const problems: string[] = [];
  let base: SnmpProfile | undefined;
  if (entry.profile !== undefined) {
    base = typeof entry.profile === 'string' ? SNMP_PROFILES[entry.profile] : undefined;
    if (!base) problems.push(`${where}: profile must be one of ${Object.keys(SNMP_PROFILES).join(', ')}, got ${JSON.stringify(entry.profile)}`);
  }
  const scalars: SnmpScalar[] = [];
  if (entry.oids !== undefined) {
    if (!Array.isArray(entry.oids)) problems.push(`${where}: oids must be a list of {oid, field, scale, meter}`);
    else if (entry.oids.length > MAX_CUSTOM_OIDS) problems.push(`${where}: oids has ${entry.oids.length} entries, more than ${MAX_CUSTOM_OIDS}`);
    else entry.oids.forEach((raw, i) => {
      const o = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
      const at = `${where}: oids[${i}]`;
      if (typeof o.oid !== 'string' || !OID.test(o.oid)) problems.push(`${at}.oid must be a numeric OID such as 1.3.6.1.4.1.318.1.1.26.4.3.1.5.1`);
      if (o.meter !== undefined && (typeof o.meter !== 'string' || !METER_SUFFIX.test(o.meter))) problems.push(`${at}.meter must be a short name of letters, digits, '.', '_' or '-' (or left out for the poller's own id)`);
      if (typeof o.field !== 'string' || !FIELDS.includes(o.field)) problems.push(`${at}.field must be one of ${FIELDS.join(', ')}`);
      const scale = o.scale ?? 1;
      if (typeof scale !== 'number' || !Number.isFinite(scale) || scale === 0) problems.push(`${at}.scale must be a non-zero number (the factor to W, Wh, V, A or a ratio)`);
      if (o.absent !== undefined && typeof o.absent !== 'number') problems.push(`${at}.absent must be a number`);
      scalars.push({ oid: String(o.oid), ...(typeof o.meter === 'string' && { meter: o.meter }), field: o.field as MeterField, scale: Number(scale), ...(typeof o.absent === 'number' && { absent: o.absent }) });
    });
  }
  if (!base && scalars.length === 0 && problems.length === 0) problems.push(`${where}: needs a profile (${Object.keys(SNMP_PROFILES).join(', ')}) or an oids map`);
  if (problems.length > 0) return { ok: false, problems };
  const profile: SnmpProfile = base
    ? { ...base, scalars: [...base.scalars, ...scalars], name: scalars.length ? `${base.name}+custom` : base.name }
    : { name: 'custom', mib: 'custom OID map', tables: [], scalars };
  return { ok: true, profile };
}
