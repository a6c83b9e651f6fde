/**
 * `npm run soak`: the whole system for a long run (30 minutes by default)
 * with faults on a schedule, and a report in bench/SOAK.md.
 *
 * - The fleet (fleet.ts): several collector processes of simulated hosts at
 *   1 Hz, each with a disk spool and a --record file, through a real
 *   Mosquitto, into one server with storage and alert rules on; the data
 *   dir on a small tmpfs in a private mount namespace (disk.ts: the run
 *   re-executes itself under `unshare -rm`).
 * - After a fault-free warm-up, faults one at a time in a repeating cycle
 *   (schedule.ts, faults.ts), each ending with the store compared against
 *   every collector's record (check.ts): the broker restarts, the server and
 *   a collector are killed, the disk fills (DuckDB) or VictoriaMetrics stops
 *   and is killed, and a storm of malformed messages (storm.ts).
 * - Every few seconds, every process's memory, CPU and event-loop delay
 *   (sampler.ts); at the end, each incarnation's trend (trend.ts).
 *
 * Exits 1 when a window was lost or stored twice, a fault did not recover,
 * or a process died on its own; 2 on a usage error.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { ProcessStatsSnapshot } from '../../cli/process-stats.js';
import { requireMosquitto } from '../mosquitto.js';
import { machine } from '../proc.js';
import { requireVictoriaMetrics } from '../victoria-metrics.js';
import { type CheckResult, StoreChecker } from './check.js';
import { insideNamespace, mountTmpfs, reexecInNamespace } from './disk.js';
import { type FaultContext, type Occurrence, runFault } from './faults.js';
import { Fleet } from './fleet.js';
import { HealthWatch, stateOf } from './health-watch.js';
import { type SoakOptions, USAGE, parseSoakArgs } from './options.js';
import { Incarnations } from './procs.js';
import { renderReport } from './report.js';
import { Sampler } from './sampler.js';
import { FAULT_TITLES, type FaultKind, type Timing, faultCycle, nextFault, planFaults } from './schedule.js';

const ROOT = resolve(import.meta.dirname, '../../..');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** The last fault ends this long before the end: a calm stretch before the collectors' clean stop and the last comparison. */
const FINAL_S = 60;

function timing(o: SoakOptions): Timing {
  return { outageS: o.outageS, stormMessages: o.storm, stormPerSecond: 2500, settleS: o.store === 'victoriametrics' ? 60 : 45 };
}

async function soak(opts: SoakOptions): Promise<number> {
  requireMosquitto();
  if (opts.store === 'victoriametrics') requireVictoriaMetrics();
  const work = mkdtempSync(join(tmpdir(), 'kilowatch-soak-'));
  const dirs = { work, data: join(work, 'data'), logs: join(work, 'logs'), backups: join(work, 'backups') };
  for (const d of Object.values(dirs)) mkdirSync(d, { recursive: true });
  mountTmpfs(dirs.data, opts.diskMb);

  const t0 = Date.now();
  const log = (line: string) => {
    const s = Math.floor((Date.now() - t0) / 1000);
    console.log(`[${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}] ${line}`);
  };
  const totalS = opts.minutes * 60;
  const plan = { totalS, warmupS: opts.warmupMinutes * 60, gapS: opts.gapS, finalS: FINAL_S };
  const planned = planFaults(opts.store, plan, timing(opts));
  log(`soak: ${opts.minutes} min, store ${opts.store}, work dir ${work} (data dir on a ${opts.diskMb} MiB tmpfs)`);
  log(`plan: warm-up ${(plan.warmupS / 60).toFixed(1)} min, then ${planned.map((p) => `${p.kind} at ${Math.round(p.atS / 60)} min`).join(', ') || 'no fault fits: make the run longer'}`);

  const incs = new Incarnations();
  const fleet = new Fleet(opts, dirs, incs);
  const health = new HealthWatch(() => fleet.serverUrl);
  const ctx: FaultContext = { fleet, health, checker: undefined as unknown as StoreChecker, incs, log };
  const sampler = new Sampler(incs, (inc) => {
    if (inc === fleet.serverInc) return health.latestAt > inc.startedAt ? health.latest?.process : undefined;
    if (ctx.storm?.inc === inc) return ctx.storm.last?.process as ProcessStatsSnapshot | undefined;
    const slot = fleet.collectors.find((c) => c.inc === inc);
    const line = slot?.health.at(-1);
    return line && line.at >= inc.startedAt ? line.process : undefined;
  }, join(work, 'samples.jsonl'));

  let stopping = false;
  const abort = (sig: string) => {
    if (stopping) return;
    stopping = true;
    console.error(`soak: ${sig}: stopping every process (work dir kept: ${work})`);
    for (const inc of incs.live()) if (inc.pid) try { process.kill(inc.pid, 'SIGKILL'); } catch { /* gone */ }
    process.exit(130);
  };
  process.on('SIGINT', () => abort('SIGINT'));
  process.on('SIGTERM', () => abort('SIGTERM'));

  try {
    return await run();
  } catch (err) {
    for (const inc of incs.live()) if (inc.pid) try { process.kill(inc.pid, 'SIGKILL'); } catch { /* gone */ }
    console.error(`soak: stopped every process; work dir kept: ${work}`);
    throw err;
  }

  async function run(): Promise<number> {
    await fleet.start(log);
    const runStart = Date.now();
    const deadline = t0 + totalS * 1000;
    ctx.checker = new StoreChecker(fleet, runStart);
    health.start(1000);
    sampler.start(opts.sampleS * 1000);
    const status = setInterval(() => {
      const h = health.latest;
      const server = fleet.serverInc?.samples.at(-1);
      log(`  status: server ${stateOf(h)}, ${h?.ingest.windows ?? '?'} windows in this incarnation, store pending ${h?.store.pending_rows ?? '?'} rows, ` +
        `server RSS ${server ? server.rssMb.toFixed(0) : '?'} MB, event-loop p99 ${h?.process?.event_loop_delay_ms.p99 ?? '?'} ms; spooled ${fleet.collectors.map((c) => c.health.at(-1)?.spooled ?? '?').join('/')}`);
    }, 60_000);

    const unexpected: string[] = [];
    const reported = new Set<string>();
    /** Processes that ended on their own are reported and started again, so the run goes on. */
    const revive = async () => {
      for (const inc of incs.all) {
        if (inc.end === undefined || /fault|end of run/.test(inc.end) || reported.has(inc.id) || inc.role === 'storm') continue;
        reported.add(inc.id);
        unexpected.push(`${inc.id} (pid ${inc.pid}) ${inc.end} at ${Math.round(((inc.endedAt ?? 0) - t0) / 1000)} s`);
        log(`UNEXPECTED: ${inc.id} ${inc.end}; starting it again`);
        if (inc.role === 'server' && inc === fleet.serverInc) await fleet.startServer();
        const slot = fleet.collectors.find((c) => c.inc === inc);
        if (slot) await fleet.startCollector(slot);
      }
    };

    const warmupEnd = runStart + plan.warmupS * 1000;
    const receivedAtStart = health.receivedTotal;
    log(`warm-up until ${Math.round((warmupEnd - t0) / 1000)} s`);
    await sleep(Math.max(0, warmupEnd - Date.now()));
    const fleetPerS = (health.receivedTotal - receivedAtStart) / ((Date.now() - runStart) / 1000);
    log(`fleet alone: the server takes in ${fleetPerS.toFixed(1)} MQTT messages/s`);

    const occurrences: Occurrence[] = [];
    const cycle = faultCycle(opts.store);
    const seen = new Map<FaultKind, number>();
    let index = 0;
    let serverKilledAt = -Infinity;
    for (;;) {
      await revive();
      const leftS = (deadline - Date.now()) / 1000 - FINAL_S;
      const next = nextFault(cycle, index, leftS, timing(opts), (Date.now() - serverKilledAt) / 1000);
      if (!next) break;
      if (next.kind === 'server-kill') serverKilledAt = Date.now();
      const n = (seen.get(next.kind) ?? 0) + 1;
      seen.set(next.kind, n);
      log(`fault ${occurrences.length + 1}: ${FAULT_TITLES[next.kind]} (#${n})`);
      occurrences.push(await runFault(ctx, next.kind, n));
      index = next.index + 1;
      await sleep(Math.min(opts.gapS * 1000, Math.max(0, deadline - Date.now())));
    }
    await sleep(Math.max(0, deadline - Date.now()));
    await revive();

    // The end: every collector stops producing and waits for the acks of what it holds; then the whole run is compared.
    log('end of run: stopping the collectors cleanly (each waits up to 60 s for its last acks)');
    clearInterval(status);
    await Promise.all(fleet.collectors.map((c) => fleet.stopCollector(c)));
    const leftInSpools = fleet.collectors.reduce((n, c) => n + c.leftAtStop, 0);
    let final: CheckResult | undefined;
    let finalProblem: string | undefined;
    try {
      final = await ctx.checker.check(Infinity);
      log(`final check, whole run: ${final.total.produced} windows produced, ${final.total.stored} stored, lost ${final.total.lost}, duplicated ${final.total.duplicated}, ` +
        `mismatched ${final.total.mismatched}, recorded as dropped ${final.total.dropped}, not in any record ${final.total.unknown}`);
    } catch (err) {
      finalProblem = (err as Error).message;
      log(`final check failed: ${finalProblem}`);
    }
    const endedAt = Date.now();
    sampler.sample();
    sampler.stop();
    health.stop();
    await fleet.stopAll();

    const { markdown, summary, ok } = renderReport({
      opts, machine: machine(), startedAt: t0, endedAt, workDir: work, occurrences, ...(final && { final }), ...(finalProblem && { finalProblem }),
      leftInSpools, incarnations: incs.all, unexpected, serverMessagesPerS: fleetPerS, plannedFaults: planned.length,
    });
    const reportFile = resolve(ROOT, opts.report);
    writeFileSync(reportFile, markdown);
    console.log(`\nsoak report written to ${reportFile}`);
    for (const line of summary) console.log(line);
    spawnSync('umount', [dirs.data]);
    if (ok && !opts.keep) rmSync(work, { recursive: true, force: true });
    else console.log(`work dir kept: ${work} (logs/, samples.jsonl, each collector's record.jsonl)`);
    return ok ? 0 : 1;
  }
}

async function main(): Promise<void> {
  if (process.argv.includes('--help')) {
    console.log(USAGE);
    return;
  }
  let opts: SoakOptions;
  try {
    opts = parseSoakArgs(process.argv.slice(2));
  } catch (err) {
    console.error((err as Error).message);
    process.exitCode = 2;
    return;
  }
  if (!insideNamespace()) {
    process.exitCode = await reexecInNamespace();
    return;
  }
  process.exitCode = await soak(opts);
}

main().catch((err: Error) => {
  console.error(`soak: ${err.stack ?? err.message}`);
  process.exit(1);
});
