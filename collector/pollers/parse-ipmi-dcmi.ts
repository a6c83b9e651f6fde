/**
 * Reads the text of `ipmitool dcmi power reading`. Pure: text in, a reading
 * or a reason out; running ipmitool is ipmi-dcmi.ts.
 *
 * The format is ipmitool's own (lib/ipmi_dcmi.c, ipmi_dcmi_pwr_rd(); the
 * command is described in ipmitool(1) under "dcmi power reading"):
 *
 *     Instantaneous power reading:              %8d Watts
 *     Minimum during sampling period:           %8d Watts
 *     Maximum during sampling period:           %8d Watts
 *     Average power reading over sample period: %8d Watts
 *     IPMI timestamp:                           <timestamp>
 *     Sampling period:                          %08u Seconds.
 *     Power reading state is:                   activated|deactivated
 *
 * Variations this parser takes in its stride, all seen in real output:
 * - since ipmitool 1.8.19 the timestamp is printed by ipmi_timestamp_numeric()
 *   without a newline, so "Sampling period:" follows on the timestamp's line;
 *   1.8.18 printed ctime() text with its own newline;
 * - labels are matched, not column positions, so a change of padding
 *   between releases does not matter;
 * - "00000000 Seconds." (no statistics period) states no period rather than 0.
 *
 * "Power reading state is: deactivated" is DCMI's Power Measurement state
 * (bit 6 of the state byte, DCMI 1.5 §6.6.1): the BMC is not measuring, and
 * the numbers beside it are stale or zero. So a deactivated reading has no
 * value: it is refused as `deactivated` and counted, never read as 0 W.
 * Output without the state line was cut short (a killed or failing ipmitool):
 * refused as `incomplete`.
 */
import type { MeterReading } from '../meters/reading.js';

export interface DcmiReading {
  instantaneous_w: number;
  minimum_w?: number;
  maximum_w?: number;
  average_w?: number;
  /** The BMC's statistics period for min, max and average, ms. */
  sampling_period_ms?: number;
}

export type DcmiReason = 'deactivated' | 'incomplete' | 'unreadable' | 'bad_value';

export type DcmiParse = { ok: true; reading: DcmiReading } | { ok: false; reason: DcmiReason; detail: string };

const WATTS = {
  instantaneous_w: /Instantaneous power reading:\s*(\S+)\s+Watts/i,
  minimum_w: /Minimum during sampling period:\s*(\S+)\s+Watts/i,
  maximum_w: /Maximum during sampling period:\s*(\S+)\s+Watts/i,
  average_w: /Average power reading over sample period:\s*(\S+)\s+Watts/i,
} as const;

const STATE = /Power reading state is:\s*(\S+)/i;
const PERIOD_SECONDS = /Sampling period:\s*(\d+)\s+Seconds/i;

/** Text that is not ipmitool's answer (an error message, a login failure) is quoted this far in the reason. */
const QUOTE_CHARS = 120;

function quote(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > QUOTE_CHARS ? `${flat.slice(0, QUOTE_CHARS)}...` : flat || '(empty output)';
}

/** Watts as ipmitool prints them: a whole non-negative number (the DCMI fields are 16-bit unsigned). */
function watts(raw: string): number | undefined {
  return /^\d{1,5}$/.test(raw) ? Number(raw) : undefined;
}

export function parseDcmiPowerReading(text: string): DcmiParse {
  const instant = WATTS.instantaneous_w.exec(text);
  const state = STATE.exec(text)?.[1]?.toLowerCase();
  if (!instant && state === undefined) return { ok: false, reason: 'unreadable', detail: `not the output of dcmi power reading: ${quote(text)}` };
  if (state === 'deactivated') return { ok: false, reason: 'deactivated', detail: 'the BMC says its power reading state is deactivated (not measuring)' };
  if (state === undefined) return { ok: false, reason: 'incomplete', detail: `no "Power reading state is" line: the output was cut short: ${quote(text)}` };
  if (state !== 'activated') return { ok: false, reason: 'unreadable', detail: `unknown power reading state "${state}"` };
  if (!instant) return { ok: false, reason: 'incomplete', detail: 'no "Instantaneous power reading" line' };
  const reading: Partial<DcmiReading> = {};
  for (const [field, pattern] of Object.entries(WATTS) as [keyof typeof WATTS, RegExp][]) {
    const raw = pattern.exec(text)?.[1];
    if (raw === undefined) continue;
    const w = watts(raw);
    if (w === undefined) return { ok: false, reason: 'bad_value', detail: `${field} is "${raw}"` };
    reading[field] = w;
  }
  const seconds = Number(PERIOD_SECONDS.exec(text)?.[1] ?? 0);
  if (seconds > 0) reading.sampling_period_ms = seconds * 1000;
  return { ok: true, reading: reading as DcmiReading };
}

/** The meter reading of one answer: the instantaneous power as `power_w` of meter `meter` (see ipmi-dcmi.ts for why). */
export function dcmiMeterReading(meter: string, text: string): { ok: true; reading: MeterReading } | Extract<DcmiParse, { ok: false }> {
  const parsed = parseDcmiPowerReading(text);
  return parsed.ok ? { ok: true, reading: { meter, power_w: parsed.reading.instantaneous_w } } : parsed;
}
