/**
 * bench/SOAK.md, rewritten by every run: the machine and the load, a row per
 * fault occurrence (what the store held against the records, the rejects
 * and health states it caused), a row per process incarnation (memory and
 * event-loop delay at its start, at 5 minutes and at its end, and whether
 * they stayed flat after its first 5 minutes), and every figure that falls
 * short. Pure: main.ts hands in what the run saw.
 */
import type { CheckResult } from './check.js';
import type { Occurrence } from './faults.js';
import type { SoakOptions } from './options.js';
import type { Incarnation } from './procs.js';
import { FAULT_TITLES, faultCycle } from './schedule.js';
import { type Trend, type TrendRule, trend, valueAt } from './trend.js';

/** Flat means at most this much growth per hour after a process's first 5 minutes (the issue's rule). */
export const RSS_RULE: TrendRule = { skipS: 300, minSpanS: 300, maxPerHour: 10 };
export const EVENT_LOOP_RULE: TrendRule = { skipS: 300, minSpanS: 300, maxPerHour: 5 };

export interface RunFacts {
  opts: SoakOptions;
  machine: string;
  /** When the soak started (the processes' times count from here) and when its last check ended. */
  startedAt: number;
  endedAt: number;
  workDir: string;
  occurrences: Occurrence[];
  /** After every collector stopped cleanly: the whole run, no cutoff. */
  final?: CheckResult;
  finalProblem?: string;
  /** Messages still in a spool when its collector stopped (not yet stored, not lost). */
  leftInSpools: number;
  incarnations: Incarnation[];
  /** Exits no fault caused. */
  unexpected: string[];
  /** MQTT messages per second the server took in from the fleet alone (over the warm-up). */
  serverMessagesPerS?: number;
  plannedFaults: number;
}

export interface ProcessRow {
  inc: Incarnation;
  cpuMean?: number;
  rss: Trend;
  el?: Trend;
}

export function processRow(inc: Incarnation): ProcessRow {
  const rss = trend(inc.samples.map((s) => ({ t: s.t, v: s.rssMb })), RSS_RULE);
  const elPoints = inc.samples.filter((s) => s.elP99 !== undefined).map((s) => ({ t: s.t, v: s.elP99! }));
  const cpu = inc.samples.filter((s) => s.cpuPct !== undefined).map((s) => s.cpuPct!);
  return {
    inc,
    ...(cpu.length > 0 && { cpuMean: cpu.reduce((a, b) => a + b, 0) / cpu.length }),
    rss,
    ...(inc.node && { el: trend(elPoints, EVENT_LOOP_RULE) }),
  };
}

const f0 = (n: number | undefined) => (n === undefined ? '–' : Math.round(n).toLocaleString('en-US'));
const f1 = (n: number | undefined) => (n === undefined ? '–' : n.toFixed(1));
const f2 = (n: number | undefined) => (n === undefined ? '–' : n.toFixed(2));
const mmss = (ms: number) => `${Math.floor(ms / 60_000)}:${String(Math.floor((ms % 60_000) / 1000)).padStart(2, '0')}`;
/** A table cell: no pipe or newline of an error message may break the row. */
const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ');
/** The slope and twice its standard error; over too short a span it says nothing, and is not shown. */
const slopeCell = (t: Trend | undefined, f: (n: number) => string) => (!t || t.verdict === 'too short' || t.slope === undefined ? '–' : `${f(t.slope)} ± ${f(2 * (t.se ?? 0))}`);
const verdict = (t: Trend | undefined) => (!t ? '–' : t.verdict === 'rising' || t.verdict === 'unclear' ? `**${t.verdict}**` : t.verdict);

/** Every figure that falls short of the issue's goals, in words. */
export function shortfalls(r: RunFacts, rows: readonly ProcessRow[]): string[] {
  const out: string[] = [];
  for (const o of r.occurrences) {
    const name = `${FAULT_TITLES[o.kind]} #${o.n}`;
    if (!o.recovered) out.push(`${name} did not recover: ${o.problem}`);
    const c = o.check?.interval;
    if (c && c.lost > 0) out.push(`${name}: ${c.lost} windows lost at its check (e.g. ${c.examples.lost.join(', ')})`);
    if (c && c.duplicated > 0) out.push(`${name}: ${c.duplicated} windows stored more than once (e.g. ${c.examples.duplicated.join(', ')})`);
    if (c && c.mismatched > 0) out.push(`${name}: ${c.mismatched} windows stored with other values than recorded (e.g. ${c.examples.mismatched.join(', ')})`);
    if (c && c.unknown > 0) out.push(`${name}: ${c.unknown} stored windows that no record names (e.g. ${c.examples.unknown.join(', ')})`);
    const t = o.check?.total;
    if (t && c && t.lost > c.lost) out.push(`${name}: ${t.lost - c.lost} windows of earlier intervals missing at this check (stored before, gone now?) (e.g. ${t.examples.lost.join(', ')})`);
  }
  if (r.finalProblem) out.push(`final check failed: ${r.finalProblem}`);
  const fin = r.final?.total;
  if (fin && fin.lost > 0) out.push(`whole run: ${fin.lost} windows lost (e.g. ${fin.examples.lost.join(', ')})`);
  if (fin && fin.duplicated > 0) out.push(`whole run: ${fin.duplicated} windows stored more than once`);
  if (fin && fin.mismatched > 0) out.push(`whole run: ${fin.mismatched} windows stored with other values than recorded`);
  if (r.leftInSpools > 0) out.push(`${r.leftInSpools} messages were still in the spools when the collectors stopped (kept on disk, not yet stored)`);
  for (const u of r.unexpected) out.push(`unexpected exit: ${u}`);
  const never = faultCycle(r.opts.store).filter((k) => !r.occurrences.some((o) => o.kind === k));
  if (never.length) out.push(`never ran, the run being too short for them: ${never.map((k) => FAULT_TITLES[k]).join('; ')}`);
  if (r.occurrences.length < r.plannedFaults) out.push(`${r.occurrences.length} faults ran of the ${r.plannedFaults} planned (they took longer than expected)`);
  const why = (t: Trend, max: number) =>
    t.verdict === 'rising' ? `above the flat bound of ${max} by more than twice its standard error` : `above the flat bound of ${max}, but within twice its standard error of it: the samples swing more than they trend over this span`;
  for (const row of rows) {
    if (row.rss.verdict === 'rising' || row.rss.verdict === 'unclear') {
      out.push(`${row.inc.id}: RSS slope after its first 5 minutes ${f1(row.rss.slope)} ± ${f1(2 * row.rss.se!)} MB/hour, ${why(row.rss, RSS_RULE.maxPerHour)}`);
    }
    if (row.el && (row.el.verdict === 'rising' || row.el.verdict === 'unclear')) {
      out.push(`${row.inc.id}: event-loop delay p99 slope after its first 5 minutes ${f2(row.el.slope)} ± ${f2(2 * row.el.se!)} ms/hour, ${why(row.el, EVENT_LOOP_RULE.maxPerHour)}`);
    }
  }
  return out;
}

/** Pass: nothing lost or stored twice, every fault recovered, no process died on its own. Trends are reported, not failed on. */
export function passed(r: RunFacts): boolean {
  const lostOrDup = (c?: CheckResult) => !!c && (c.total.lost > 0 || c.total.duplicated > 0 || c.interval.lost > 0 || c.interval.duplicated > 0);
  return r.final !== undefined && !r.finalProblem && !lostOrDup(r.final) && r.occurrences.every((o) => o.recovered && !lostOrDup(o.check)) && r.unexpected.length === 0;
}

function faultRows(r: RunFacts): string[] {
  const rows = [
    '| # | fault | at | outage (storm: its length) | drained after | windows produced | stored | lost | duplicated | mismatched | recorded as dropped | rejects counted by the server, by reason | health states seen | recovered |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  r.occurrences.forEach((o, i) => {
    const c = o.check?.interval;
    const rejects = o.rejects && Object.keys(o.rejects).length ? Object.entries(o.rejects).map(([k, v]) => `${k} ${f0(v)}`).join(', ') : 'none';
    const notes = o.notes.length ? `<br>${o.notes.map(cell).join('<br>')}` : '';
    rows.push(
      `| ${i + 1} | ${FAULT_TITLES[o.kind]}${notes} | ${mmss(o.startedAt - r.startedAt)} | ${o.outageMs === undefined ? '–' : `${(o.outageMs / 1000).toFixed(0)} s`} | ` +
      `${o.drainMs === undefined ? '–' : `${(o.drainMs / 1000).toFixed(0)} s`} | ${f0(c?.produced)} | ${f0(c?.stored)} | ${f0(c?.lost)} | ${f0(c?.duplicated)} | ` +
      `${f0(c?.mismatched)} | ${f0(c?.dropped)} | ${rejects} | ${cell(o.states.join('; '))} | ${o.recovered ? 'yes' : `**no**: ${cell(o.problem ?? '')}`} |`,
    );
  });
  const fin = r.final;
  if (fin) {
    rows.push(`| | end of run: the windows since the last check, collectors stopped cleanly | ${mmss(fin.at - r.startedAt)} | | | ${f0(fin.interval.produced)} | ${f0(fin.interval.stored)} | ${f0(fin.interval.lost)} | ${f0(fin.interval.duplicated)} | ${f0(fin.interval.mismatched)} | ${f0(fin.interval.dropped)} | | | |`);
    rows.push(`| | **whole run** | | | | **${f0(fin.total.produced)}** | **${f0(fin.total.stored)}** | **${f0(fin.total.lost)}** | **${f0(fin.total.duplicated)}** | **${f0(fin.total.mismatched)}** | **${f0(fin.total.dropped)}** | | | |`);
  }
  return rows;
}

function processRows(r: RunFacts, rows: readonly ProcessRow[]): string[] {
  const out = [
    '| process | pid | lived | ended | CPU, % of a core | RSS MB: start / 5 min / end | RSS slope after 5 min, MB/h | flat? | event-loop p99 ms: start / 5 min / end | p99 slope after 5 min, ms/h | flat? |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const row of rows) {
    const { inc } = row;
    const s = inc.samples;
    const rssAt = (t: number) => valueAt(s.map((x) => ({ t: x.t, v: x.rssMb })), t);
    const el = s.filter((x) => x.elP99 !== undefined).map((x) => ({ t: x.t, v: x.elP99! }));
    const lived = `${mmss(inc.startedAt - r.startedAt)}–${mmss((inc.endedAt ?? r.endedAt) - r.startedAt)}`;
    out.push(
      `| ${inc.id} | ${inc.pid} | ${lived} | ${inc.end ?? 'ran to the end'} | ${f1(row.cpuMean)} | ${f0(rssAt(0))} / ${f0(rssAt(300))} / ${f0(s.at(-1)?.rssMb)} | ` +
      `${slopeCell(row.rss, (n) => n.toFixed(1))} | ${verdict(row.rss)} | ` +
      (inc.node ? `${f2(el[0]?.v)} / ${f2(valueAt(el, 300))} / ${f2(el.at(-1)?.v)} | ${slopeCell(row.el, (n) => n.toFixed(2))} | ${verdict(row.el)} |` : 'not a Node process | | |'),
    );
  }
  return out;
}

/**
 * A value over time, per minute of the run (the mean of that minute's samples), a column per process; a
 * restarted process goes on in its column, marked ↻ in the minute its new incarnation started.
 */
export function perMinute(r: Pick<RunFacts, 'startedAt' | 'endedAt' | 'incarnations'>, pick: (s: Incarnation['samples'][number]) => number | undefined, digits: number): string[] {
  const names = [...new Set(r.incarnations.map((i) => i.name))];
  const minutes = Math.ceil((r.endedAt - r.startedAt) / 60_000);
  const out = [`| minute | ${names.join(' | ')} |`, `|---|${names.map(() => '---|').join('')}`];
  for (let m = 0; m < minutes; m++) {
    const from = r.startedAt + m * 60_000;
    const cells = names.map((name) => {
      const incs = r.incarnations.filter((i) => i.name === name);
      const xs = incs.flatMap((i) => i.samples.filter((x) => i.startedAt + x.t * 1000 >= from && i.startedAt + x.t * 1000 < from + 60_000).map(pick)).filter((v): v is number => v !== undefined);
      const restarted = incs.some((i) => !i.id.endsWith('#1') && i.startedAt >= from && i.startedAt < from + 60_000);
      return xs.length ? `${(xs.reduce((a, b) => a + b, 0) / xs.length).toFixed(digits)}${restarted ? ' ↻' : ''}` : restarted ? '↻' : '';
    });
    out.push(`| ${m} | ${cells.join(' | ')} |`);
  }
  return out;
}

export function renderReport(r: RunFacts): { markdown: string; summary: string[]; ok: boolean } {
  const rows = r.incarnations.map(processRow);
  const short = shortfalls(r, rows);
  const ok = passed(r);
  const o = r.opts;
  const gpus = o.collectors * o.hosts * o.gpus;
  const cpuOf = (role: string) => rows.filter((x) => x.inc.role === role && x.cpuMean !== undefined).map((x) => x.cpuMean!);
  const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : undefined);
  const fin = r.final?.total;
  const result = ok
    ? `PASS: ${f0(fin?.produced)} windows produced, none lost, none stored twice; every fault recovered`
    : `FAIL: ${short.length} shortfall(s), listed below`;
  const md = [
    '# Soak run',
    '',
    'Written by `npm run soak` (bench/soak/), rewritten by every run. README, "Tests", says what it does.',
    '',
    '| | |',
    '|---|---|',
    `| result | ${result} |`,
    `| machine | ${r.machine} |`,
    `| date | ${new Date(r.startedAt).toISOString().replace('T', ' ').slice(0, 16)} UTC |`,
    `| length | ${o.minutes} min planned, ${((r.endedAt - r.startedAt) / 60_000).toFixed(1)} min run (warm-up ${f1(o.warmupMinutes)} min, outages ${o.outageS} s, ${o.gapS} s between faults, storms of ${f0(o.storm)} messages) |`,
    `| store | ${o.store}${o.store === 'duckdb' ? `, data dir on a ${o.diskMb} MiB tmpfs` : ' (VictoriaMetrics 1.79.5 from Debian; delivery state in DuckDB on a tmpfs)'} |`,
    `| fleet | ${o.collectors} collector processes × ${o.hosts} simulated hosts × ${o.gpus} GPUs = ${gpus} GPUs, 1 s windows sampled at 10 Hz: ${o.collectors * o.hosts} GPU windows/s (${gpus} GPU-windows/s), plus job and meter streams; alert rules on every window; Mosquitto 2.0.11 with persistence false |`,
    `| load | the fleet alone sends the server ${f1(r.serverMessagesPerS)} MQTT messages/s (measured over the warm-up); mean CPU, % of one core: server ${f1(mean(cpuOf('server')))}, each collector ${f1(mean(cpuOf('collector')))}, Mosquitto ${f1(mean(cpuOf('mosquitto')))}${o.store === 'victoriametrics' ? `, VictoriaMetrics ${f1(mean(cpuOf('victoriametrics')))}` : ''}, storm publisher ${f1(mean(cpuOf('storm')))} |`,
    '',
    '## Faults',
    '',
    'Each row covers the windows that started since the previous check, up to its own cutoff (10 s before the spools were seen drained, 30 s with VictoriaMetrics, whose acks come 15 s late). ' +
      '**Lost**: produced, not stored, and not in a range the collector recorded as dropped. **Duplicated**: stored more than once. **Mismatched**: stored with another start, GPU count or energy than recorded. ' +
      `Rejects are the server's counts during the fault. The last row compares the whole run after every collector stopped cleanly.`,
    '',
    ...faultRows(r),
    '',
    '## Processes',
    '',
    `Every incarnation separately (a restarted process is a new one). RSS from /proc every ${o.sampleS} s; event-loop delay as each Node process reports it (cli/process-stats.ts: p99 of the last interval, beyond the 10 ms timer). ` +
      `The slope is a least-squares fit to the samples after the incarnation's first 5 minutes, ± twice its standard error (counting one independent sample a minute, ` +
      'since a GC sawtooth swings RSS over minutes). **Flat**: a slope of at most ' +
      `${RSS_RULE.maxPerHour} MB/hour of RSS, ${EVENT_LOOP_RULE.maxPerHour} ms/hour of p99. **Rising**: above that by more than twice the standard error. ` +
      `**Unclear**: above it, but within twice the standard error. **Too short**: less than ${RSS_RULE.minSpanS / 60} minutes of samples after the first 5.`,
    '',
    ...processRows(r, rows),
    '',
    '### RSS over time, MB (mean per minute)',
    '',
    ...perMinute(r, (x) => x.rssMb, 0),
    '',
    '### Event-loop delay p99 over time, ms (mean per minute of the reported intervals)',
    '',
    ...perMinute({ ...r, incarnations: r.incarnations.filter((i) => i.node) }, (x) => x.elP99, 2),
    '',
    '## Shortfalls',
    '',
    ...(short.length ? short.map((s) => `- ${s}`) : ['None.']),
    '',
  ].join('\n');
  return { markdown: md, summary: [result, ...short.map((s) => `  - ${s}`)], ok };
}
