/**
 * One occurrence of each fault: do it, wait for the system to recover
 * (health says how), wait for the spools to drain, and compare the store
 * with the records (check.ts). A fault that does not recover in time is
 * recorded with the reason, the system is put back as far as possible, and
 * the run goes on: the report lists it and the exit code fails.
 */
import { resolve } from 'node:path';
import { type CheckResult, type StoreChecker, steadyLevels, waitDrained } from './check.js';
import { fillDisk, freeBytes, freeDisk } from './disk.js';
import type { Fleet } from './fleet.js';
import type { HealthWatch } from './health-watch.js';
import { type Incarnation, type Incarnations, NodeChild } from './procs.js';
import type { FaultKind } from './schedule.js';

const STORM = resolve(import.meta.dirname, 'storm.js');

export interface Occurrence {
  kind: FaultKind;
  /** 1 for the first occurrence of this kind, 2 for the next, ... */
  n: number;
  startedAt: number;
  endedAt?: number;
  /** How long the outage itself lasted (or the storm took), ms. */
  outageMs?: number;
  /** From the end of the outage until the spools were drained, ms. */
  drainMs?: number;
  recovered: boolean;
  problem?: string;
  check?: CheckResult;
  states: string[];
  /** Rejects the server counted during the occurrence, by reason. */
  rejects?: Record<string, number>;
  notes: string[];
}

export interface FaultContext {
  fleet: Fleet;
  health: HealthWatch;
  checker: StoreChecker;
  incs: Incarnations;
  log: (line: string) => void;
  /** The storm's publisher, while it runs (the sampler reads its event loop). */
  storm?: { inc: Incarnation; last?: Record<string, unknown> };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function rejectDelta(after: Record<string, number> | undefined, before: Record<string, number> | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(after ?? {})) if (v - (before?.[k] ?? 0) > 0) out[k] = v - (before?.[k] ?? 0);
  return out;
}

/** The fault itself, until the system is back (occ.outageMs says how long it was down). */
async function act(ctx: FaultContext, occ: Occurrence): Promise<void> {
  const { fleet, health, log } = ctx;
  const outageMs = fleet.opts.outageS * 1000;
  const t0 = Date.now();
  switch (occ.kind) {
    case 'broker-restart': {
      await fleet.stopBroker();
      log(`  Mosquitto stopped; down for ${fleet.opts.outageS} s`);
      await sleep(outageMs);
      await fleet.startBroker();
      occ.outageMs = Date.now() - t0;
      await health.until((h) => h.mqtt.connected, 60_000, 'the server reconnected to Mosquitto');
      return;
    }
    case 'server-kill': {
      await fleet.killServer();
      log(`  server killed (SIGKILL); down for ${fleet.opts.outageS} s`);
      await sleep(outageMs);
      await fleet.startServer();
      occ.outageMs = Date.now() - t0;
      log(`  server restarted at ${fleet.serverUrl} (pid ${fleet.server!.pid})`);
      await health.until((h) => h.mqtt.connected, 60_000, 'the restarted server connected');
      return;
    }
    case 'collector-kill': {
      const slot = fleet.collectors[(occ.n - 1) % fleet.collectors.length]!;
      await fleet.killCollector(slot);
      const down = Math.min(outageMs, 10_000);
      log(`  ${slot.name} killed (SIGKILL); down for ${down / 1000} s, then restarted on the same spool and record`);
      await sleep(down);
      await fleet.startCollector(slot);
      occ.outageMs = Date.now() - t0;
      occ.notes.push(`${slot.name} (pid ${slot.proc!.pid} after the restart)`);
      return;
    }
    case 'disk-full': {
      const dir = fleet.dirs.data;
      const free = freeBytes(dir);
      const filled = await fillDisk(dir);
      log(`  data disk filled: ${(filled / 2 ** 20).toFixed(0)} MiB written (${(free / 2 ** 20).toFixed(0)} MiB were free)`);
      try {
        const h = await health.until((x) => x.store.degraded && x.status === 'degraded', 60_000, 'health degraded on the full disk');
        occ.notes.push(`error: "${h.store.last_error}"`);
        if (!/No space left|ENOSPC|disk is full|space/i.test(h.store.last_error ?? '')) throw new Error(`health is degraded but the error does not say the disk is full: ${h.store.last_error}`);
        log(`  health degraded: ${h.store.last_error}`);
        await sleep(outageMs);
      } finally {
        await freeDisk(dir);
      }
      occ.outageMs = Date.now() - t0;
      const written = health.latest?.store.written_rows ?? 0;
      log('  disk freed');
      // Written again: not degraded, and rows written since (the spools' backlog is waited for next, as after every fault).
      const after = await health.until((x) => !x.store.degraded && x.store.written_rows > written, 180_000, 'the store written again after the disk was freed');
      occ.notes.push(`store reopens: ${after.store.reopens ?? 0}`);
      return;
    }
    case 'vm-stop':
    case 'vm-kill': {
      const kill = occ.kind === 'vm-kill';
      await fleet.stopVm(kill ? 'kill' : 'stop');
      log(`  VictoriaMetrics ${kill ? 'killed (SIGKILL), started again at once' : `stopped (SIGTERM) for ${fleet.opts.outageS} s`}`);
      if (!kill) {
        const h = await health.until((x) => x.store.degraded, Math.min(outageMs, 60_000), 'health degraded while VictoriaMetrics is down').catch((err: Error) => {
          occ.notes.push(err.message);
          return undefined;
        });
        if (h) occ.notes.push(`error: "${h.store.last_error}"`);
        await sleep(Math.max(0, outageMs - (Date.now() - t0)));
      }
      await fleet.startVm();
      occ.outageMs = Date.now() - t0;
      await health.until((x) => !x.store.degraded, 120_000, 'the store writing to VictoriaMetrics again');
      return;
    }
    case 'storm': {
      const before = (await health.poll())?.rejects.by_reason ?? {};
      const count = fleet.opts.storm;
      const inc = ctx.incs.begin('storm', 'storm', 0, true);
      const proc = new NodeChild(STORM, ['--broker', fleet.brokerUrl, '--server', fleet.serverUrl, '--count', String(count), '--seed', String(occ.n)], fleet.dirs.logs, inc, inc.id);
      inc.pid = proc.pid;
      ctx.storm = { inc };
      let done: Record<string, unknown> | undefined;
      proc.onLine((line) => {
        if (line.startsWith('storm: ')) {
          ctx.storm!.last = JSON.parse(line.slice('storm: '.length)) as Record<string, unknown>;
          log(`  storm: ${String(ctx.storm!.last.sent)} of ${count} sent`);
        }
        if (line.startsWith('storm done: ')) done = JSON.parse(line.slice('storm done: '.length)) as Record<string, unknown>;
      });
      const how = await proc.exited;
      ctx.incs.finish(inc, how);
      ctx.storm = undefined;
      occ.outageMs = Date.now() - t0;
      if (!done) throw new Error(`the storm publisher ${how} before it finished: ${proc.output().slice(-500)}`);
      const sure = done.sure as Record<string, number>;
      occ.notes.push(`${Number(done.sent).toLocaleString('en-US')} sent in ${Math.round(Number(done.seconds))} s (${Math.round(Number(done.sent) / Number(done.seconds))}/s), sure rejects ${JSON.stringify(sure)}`);
      // Every sure reject counted under its reason, no internal error, the server still up.
      const h = await health.until((x) => Object.entries(sure).every(([k, n]) => (x.rejects.by_reason[k] ?? 0) - (before[k] ?? 0) >= n), 180_000, 'every sure reject counted')
        .catch(async (err: Error) => {
          const last = health.latest;
          throw new Error(`${err.message}; counted ${JSON.stringify(rejectDelta(last?.rejects.by_reason, before))}, expected at least ${JSON.stringify(sure)}`);
        });
      occ.rejects = rejectDelta(h.rejects.by_reason, before);
      if (h.ingest.internal_errors > 0) throw new Error(`${h.ingest.internal_errors} internal errors in the server`);
      return;
    }
  }
}

/** Puts back whatever a failed fault left down, so the run can go on. */
async function restore(ctx: FaultContext): Promise<void> {
  const { fleet } = ctx;
  await freeDisk(fleet.dirs.data).catch(() => undefined);
  if (fleet.vm && !fleet.vm.running()) await fleet.startVm().catch(() => undefined);
  if (fleet.broker && (await isDown(fleet.broker.port))) await fleet.startBroker().catch(() => undefined);
  if (!fleet.server?.running) await fleet.startServer().catch(() => undefined);
  for (const c of fleet.collectors) if (!c.proc?.running) await fleet.startCollector(c).catch(() => undefined);
}

async function isDown(port: number): Promise<boolean> {
  const { connect } = await import('node:net');
  return new Promise((res) => {
    const s = connect(port, '127.0.0.1', () => (s.end(), res(false)));
    s.once('error', () => res(true));
  });
}

export async function runFault(ctx: FaultContext, kind: FaultKind, n: number): Promise<Occurrence> {
  const { fleet, health, checker, log } = ctx;
  const occ: Occurrence = { kind, n, startedAt: Date.now(), recovered: true, states: [], notes: [] };
  const steady = steadyLevels(fleet);
  const rejectsBefore = health.latest?.rejects.by_reason;
  try {
    await act(ctx, occ);
  } catch (err) {
    occ.recovered = false;
    occ.problem = (err as Error).message;
    log(`  NOT RECOVERED: ${occ.problem}`);
    await restore(ctx);
  }
  const outageEnd = Date.now();
  // VictoriaMetrics' acks come 15 s after the write, and a spool replays at a bounded rate: allow minutes.
  const drainTimeout = fleet.opts.store === 'victoriametrics' ? 420_000 : 300_000;
  try {
    const at = await waitDrained(fleet, steady, outageEnd, drainTimeout);
    occ.drainMs = at - outageEnd;
    log(`  spools drained ${(occ.drainMs / 1000).toFixed(0)} s after the outage ended; comparing the store with the records`);
    occ.check = await checker.check(at - checker.marginMs);
    const c = occ.check;
    log(`  check: ${c.interval.produced} windows produced since the last check, ${c.interval.stored} stored, lost ${c.interval.lost}, ` +
      `duplicated ${c.interval.duplicated}, mismatched ${c.interval.mismatched}, dropped ${c.interval.dropped}; whole run so far: lost ${c.total.lost}, ` +
      `duplicated ${c.total.duplicated} of ${c.total.produced} (${(c.readMs / 1000).toFixed(1)} s to read the store${c.bytes ? `, ${(c.bytes / 1e6).toFixed(0)} MB backup` : ''})`);
  } catch (err) {
    occ.recovered = false;
    occ.problem = [occ.problem, (err as Error).message].filter(Boolean).join('; ');
    log(`  NOT RECOVERED: ${(err as Error).message}`);
  }
  occ.endedAt = Date.now();
  occ.states = health.statesBetween(occ.startedAt, occ.endedAt);
  occ.rejects ??= rejectDelta(health.latest?.rejects.by_reason, kind === 'server-kill' ? undefined : rejectsBefore);
  return occ;
}
