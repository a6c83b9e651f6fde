/**
 * `kilowatch export <dir> [--from <time>] [--to <time>]`: the running server
 * writes jobs.csv and gpu_hourly.csv for the range into <dir> (server/export.ts),
 * through its admin socket. Times are ms since the epoch or ISO 8601; the
 * default is the last 24 hours.
 */
import { parseArgs } from 'node:util';
import { adminCall } from './admin-call.js';

const USAGE = `usage: kilowatch export <dir> [--from <time>] [--to <time>] [--data-dir <dir>] [--config <file>]

Writes jobs.csv (each job's energy in J with its method and coverage, GPU-hours, allocated-idle
share, cost and carbon) and gpu_hourly.csv (energy, mean and max power per GPU and hour) for the
range into <dir>, from the server running with the same data dir. Times: ms since the epoch or
ISO 8601 (default: the last 24 hours). At most 366 days.

Exit status: 0 when written, 1 when the server refused or is not running, 2 for a usage error.`;

function time(v: string | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  return /^\d+$/.test(v) ? Number(v) : Date.parse(v);
}

export async function runExportCommand(argv: string[], env: NodeJS.ProcessEnv, now: number, out: { log: (l: string) => void; error: (l: string) => void }): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: { from: { type: 'string' }, to: { type: 'string' }, 'data-dir': { type: 'string' }, config: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
  } catch (err) {
    return out.error(`kilowatch export: ${(err as Error).message}\n\n${USAGE}`), 2;
  }
  if (parsed.values.help) return out.log(USAGE), 0;
  const [dir] = parsed.positionals;
  const to = time(parsed.values.to, now);
  const from = time(parsed.values.from, to - 86_400_000);
  if (dir === undefined || !Number.isFinite(from) || !Number.isFinite(to)) return out.error(`kilowatch export: needs a directory, and times as ms or ISO 8601\n\n${USAGE}`), 2;
  const r = await adminCall(parsed.values, env, { cmd: 'export', dir: new URL(dir, `file://${process.cwd()}/`).pathname, from, to });
  if (!r.ok) return out.error(`kilowatch export: ${r.error}`), r.code;
  const files = r.answer.files as Record<string, number>;
  out.log(`kilowatch: exported ${new Date(from).toISOString()} to ${new Date(to).toISOString()} into ${String(r.answer.dir)}: ${Object.entries(files).map(([f, n]) => `${f} ${n} rows`).join(', ')}`);
  return 0;
}
