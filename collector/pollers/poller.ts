/**
 * The interface every data-center power source implements (one file per
 * source, ARCHITECTURE.md §6.2): a BMC over Redfish or IPMI DCMI, an SNMP
 * PDU, a Modbus TCP meter. Each polls on its own timer and hands normalized
 * meter readings (meters/reading.ts) to the collector, which windows them
 * with MeterWindows and publishes them on the meter streams, exactly as the
 * MQTT meters are. The parsing of each source is a pure function in its own
 * `parse-<kind>.ts`; the poller file is the I/O around it.
 *
 * Rules every poller keeps:
 * - a poll that is slow or fails is timed out and counted, never waited on:
 *   it never delays another poller, the GPU sampler or the event loop;
 * - a value the device does not report is absent, never 0;
 * - start() returns at once; stop() cancels timers and in-flight requests.
 */
import type { MeterInfo } from '../../protocol/payloads.js';
import type { MeterReading } from '../meters/reading.js';

export type PollerKind = 'redfish' | 'ipmi-dcmi' | 'snmp-pdu' | 'modbus';

/** One entry of the pollers file (`collector.pollers`): its kind, a unique id, and the kind's own settings. */
export interface PollerEntry {
  kind: PollerKind;
  /** Unique within the collector; meter ids of this poller start with it. */
  id: string;
  /** Poll interval, ms; a source may follow the device's own interval instead (Redfish SensingInterval). */
  interval_ms?: number;
  /** Per-poll deadline, ms; a poll still running at the deadline is abandoned and counted as `timeout`. */
  timeout_ms?: number;
  [setting: string]: unknown;
}

/** What the collector gives every poller it creates (its clock and its log). */
export interface PollerDeps {
  now: () => number;
  log: (line: string) => void;
}

export interface MeterPoller {
  readonly kind: PollerKind;
  readonly id: string;
  /** Starts polling; every reading goes to `emit` with the instant it was received. */
  start(emit: (reading: MeterReading, atMs: number) => void): void;
  stop(): Promise<void>;
  /** The meters this poller reads, for the host's retained `info`. */
  meters(): MeterInfo[];
  /** Counters for the collector's health output: polls, ok, timeout, error, bad_value, ... */
  health(): Record<string, number>;
}
