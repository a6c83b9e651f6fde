/**
 * `npm run soak -- [options]`: the run's length, store, fleet and faults.
 * Pure, so the defaults and the refusals are tested.
 */
import type { StoreKind } from './schedule.js';

export interface SoakOptions {
  minutes: number;
  store: StoreKind;
  collectors: number;
  hosts: number;
  gpus: number;
  /** Fault-free minutes before the first fault. */
  warmupMinutes: number;
  /** Length of each outage (broker, server, disk; VictoriaMetrics stopped). */
  outageS: number;
  /** Calm between faults. */
  gapS: number;
  /** Malformed messages per storm. */
  storm: number;
  /** Sampling interval of every process's memory, CPU and event loop. */
  sampleS: number;
  /** Size of the data dir's tmpfs. */
  diskMb: number;
  /** Where the report goes. */
  report: string;
  /** Keep the work dir (logs, records, samples) after the run. */
  keep: boolean;
}

export const USAGE = `npm run soak -- [options]
  --minutes N       length of the run (default 30)
  --store S         duckdb | victoriametrics (default duckdb)
  --collectors N    collector processes (default 4)
  --hosts N         simulated hosts per collector (default 8)
  --gpus N          GPUs per host (default 8)
  --warmup-min N    fault-free minutes first (default 5, or a sixth of a shorter run)
  --outage-s N      length of each outage; VictoriaMetrics stays stopped this long (default 60)
  --gap-s N         calm between faults (default 30, or 20 in runs under 15 minutes)
  --storm N         malformed messages per storm (default 1000000)
  --sample-s N      sampling interval of the processes (default 5)
  --disk-mb N       size of the data dir's tmpfs (default 512)
  --report FILE     where the report goes (default bench/SOAK.md)
  --keep            keep the work dir (logs, records, samples)`;

const INTS: Record<string, keyof SoakOptions> = {
  '--minutes': 'minutes', '--collectors': 'collectors', '--hosts': 'hosts', '--gpus': 'gpus', '--warmup-min': 'warmupMinutes',
  '--outage-s': 'outageS', '--gap-s': 'gapS', '--storm': 'storm', '--sample-s': 'sampleS', '--disk-mb': 'diskMb',
};
const MIN: Partial<Record<keyof SoakOptions, number>> = { minutes: 1, collectors: 1, hosts: 1, gpus: 1, outageS: 1, sampleS: 1, diskMb: 64, storm: 0, gapS: 0, warmupMinutes: 0 };

export function parseSoakArgs(argv: readonly string[]): SoakOptions {
  const given: Partial<Record<keyof SoakOptions, number | string | boolean>> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value\n${USAGE}`);
      return v;
    };
    if (flag === '--keep') given.keep = true;
    else if (flag === '--store') {
      const v = value();
      if (v !== 'duckdb' && v !== 'victoriametrics') throw new Error(`--store is duckdb or victoriametrics, not "${v}"`);
      given.store = v;
    } else if (flag === '--report') given.report = value();
    else if (INTS[flag]) {
      const key = INTS[flag]!;
      const v = value();
      const n = Number(v);
      if (!Number.isFinite(n) || n < (MIN[key] ?? 0) || (key !== 'warmupMinutes' && key !== 'minutes' && !Number.isInteger(n))) {
        throw new Error(`${flag} takes a number of at least ${MIN[key] ?? 0}${key === 'minutes' || key === 'warmupMinutes' ? '' : ' (whole)'}, not "${v}"`);
      }
      given[key] = n;
    } else throw new Error(`unknown option ${arg}\n${USAGE}`);
  }
  const minutes = (given.minutes as number | undefined) ?? 30;
  return {
    minutes,
    store: (given.store as StoreKind | undefined) ?? 'duckdb',
    collectors: (given.collectors as number | undefined) ?? 4,
    hosts: (given.hosts as number | undefined) ?? 8,
    gpus: (given.gpus as number | undefined) ?? 8,
    warmupMinutes: (given.warmupMinutes as number | undefined) ?? Math.min(5, minutes / 6),
    outageS: (given.outageS as number | undefined) ?? 60,
    gapS: (given.gapS as number | undefined) ?? (minutes < 15 ? 20 : 30),
    storm: (given.storm as number | undefined) ?? 1_000_000,
    sampleS: (given.sampleS as number | undefined) ?? 5,
    diskMb: (given.diskMb as number | undefined) ?? 512,
    report: (given.report as string | undefined) ?? 'bench/SOAK.md',
    keep: (given.keep as boolean | undefined) ?? false,
  };
}
