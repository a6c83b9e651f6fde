/**
 * Every few seconds, for every live process incarnation: resident memory
 * and CPU from /proc, and for the Node processes the event-loop delay they
 * report themselves (the server in /api/v1/health, each collector in its
 * health line, the storm publisher in its progress line). Samples are kept
 * per incarnation for the report and appended to samples.jsonl.
 */
import { appendFileSync } from 'node:fs';
import type { ProcessStatsSnapshot } from '../../cli/process-stats.js';
import { type Incarnation, type Incarnations, cpuOf, rssMb } from './procs.js';

/** The latest event-loop report of an incarnation, if it made one since it started. */
export type EventLoopSource = (inc: Incarnation) => ProcessStatsSnapshot | undefined;

export class Sampler {
  private timer?: NodeJS.Timeout;

  constructor(private readonly incs: Incarnations, private readonly eventLoop: EventLoopSource, private readonly file: string) {}

  start(everyMs: number): void {
    this.timer = setInterval(() => this.sample(), everyMs);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  sample(): void {
    const now = Date.now();
    for (const inc of this.incs.live()) {
      if (!inc.pid) continue;
      const rss = rssMb(inc.pid);
      if (rss === undefined) continue; // gone; its exit is recorded by whoever waits for it
      const cpu = cpuOf(inc.pid);
      let cpuPct: number | undefined;
      if (cpu !== undefined) {
        if (inc.lastCpu) cpuPct = ((cpu - inc.lastCpu.s) / ((now - inc.lastCpu.at) / 1000)) * 100;
        inc.lastCpu = { at: now, s: cpu };
      }
      const el = inc.node ? this.eventLoop(inc) : undefined;
      const s = {
        t: (now - inc.startedAt) / 1000,
        rssMb: rss,
        ...(cpuPct !== undefined && { cpuPct }),
        ...(el && { elP99: el.event_loop_delay_ms.p99, elMax: el.event_loop_delay_ms.max }),
      };
      inc.samples.push(s);
      appendFileSync(this.file, JSON.stringify({ at: now, id: inc.id, pid: inc.pid, ...s }) + '\n');
    }
  }
}
