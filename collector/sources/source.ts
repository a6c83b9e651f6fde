/**
 * The interface every GPU source implements (one file per source, §6.2).
 * The sampler calls read() on the sample grid; a source must answer at once
 * from what it last read, never block, and leave out what it cannot read
 * (absent, never 0). Slow or hanging hardware is the source's own business:
 * it runs its reads elsewhere (a worker per GPU for NVML) and read() returns
 * only fresh values.
 */
import type { GpuInfo } from '../../protocol/payloads.js';
import type { GpuSample } from '../window.js';

export type SourceKind = 'nvml' | 'nvidia-smi' | 'prometheus' | 'sim';

export interface GpuSource {
  readonly kind: SourceKind;
  /** Probes the hardware and capabilities once; rejects with a clear message when the source cannot run here. */
  start(): Promise<void>;
  /** The inventory for the retained `info` message; valid after start(). */
  inventory(): GpuInfo[];
  /** Readings for instant tMs, one per GPU that has fresh data. Never blocks, never throws. */
  read(tMs: number): GpuSample[];
  stop(): Promise<void>;
  /** Counters for the collector's health output: bad readings dropped by reason, timeouts, restarts. */
  health(): Record<string, number>;
}
