/**
 * The soak run's processes: each start of a process is an incarnation of
 * its own (a restarted server is a new process, with a new trend), with its
 * samples over time. Node children write their output to a log file of
 * their own, and their lines go to whoever listens (health lines, ready
 * lines). Memory and CPU are read from /proc, the same way for every process.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { cpuSeconds, rssKb } from '../proc.js';

export type Role = 'server' | 'collector' | 'mosquitto' | 'victoriametrics' | 'storm';

export interface Sample {
  /** Seconds since this incarnation started. */
  t: number;
  rssMb: number;
  /** % of one core since the previous sample. */
  cpuPct?: number;
  /** Event-loop delay the process reported for its latest interval (Node processes), ms. */
  elP99?: number;
  elMax?: number;
}

export interface Incarnation {
  /** e.g. `server#2`, `collector-1#1`. */
  id: string;
  role: Role;
  name: string;
  pid: number;
  node: boolean;
  startedAt: number;
  endedAt?: number;
  /** How it ended: `SIGKILL (fault)`, `stopped`, `exited with 1`. */
  end?: string;
  samples: Sample[];
  /** The CPU seconds at the previous sample. */
  lastCpu?: { at: number; s: number };
}

export class Incarnations {
  readonly all: Incarnation[] = [];
  private readonly counts = new Map<string, number>();

  begin(role: Role, name: string, pid: number, node: boolean): Incarnation {
    const n = (this.counts.get(name) ?? 0) + 1;
    this.counts.set(name, n);
    const inc: Incarnation = { id: `${name}#${n}`, role, name, pid, node, startedAt: Date.now(), samples: [] };
    this.all.push(inc);
    return inc;
  }

  finish(inc: Incarnation | undefined, how: string): void {
    if (inc && inc.endedAt === undefined) {
      inc.endedAt = Date.now();
      inc.end = how;
    }
  }

  live(): Incarnation[] {
    return this.all.filter((i) => i.endedAt === undefined);
  }
}

/** Resident memory of a process, MB (VmRSS of /proc/<pid>/status); undefined once it is gone. */
export function rssMb(pid: number): number | undefined {
  try {
    return (rssKb(pid) * 1024) / 1e6;
  } catch {
    return undefined;
  }
}

export function cpuOf(pid: number): number | undefined {
  try {
    return cpuSeconds(pid);
  } catch {
    return undefined;
  }
}

/** A Node child (`kilowatch ...` or the storm publisher) with its output in `<logDir>/<id>.log`. */
export class NodeChild {
  readonly child: ChildProcess;
  readonly exited: Promise<string>;
  private readonly listeners = new Set<(line: string) => void>();
  private tail = '';

  constructor(script: string, args: string[], logDir: string, readonly inc: Incarnation | undefined, name: string) {
    this.child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const log = createWriteStream(join(logDir, `${name}.log`), { flags: 'a' });
    let partial = '';
    const onData = (d: Buffer) => {
      log.write(d);
      this.tail = (this.tail + d.toString()).slice(-8192);
      const text = partial + d.toString();
      const lines = text.split('\n');
      partial = lines.pop()!;
      for (const line of lines) for (const l of this.listeners) l(line);
    };
    this.child.stdout!.on('data', onData);
    this.child.stderr!.on('data', onData);
    this.exited = new Promise((res) =>
      this.child.once('exit', (code, signal) => {
        log.end();
        res(signal ? `killed by ${signal}` : `exited with ${code}`);
      }),
    );
  }

  get pid(): number {
    return this.child.pid!;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The last 8 KiB of output, for error messages. */
  output(): string {
    return this.tail;
  }

  /** Calls `f` with every line of output from now on; returns how to stop. */
  onLine(f: (line: string) => void): () => void {
    this.listeners.add(f);
    return () => this.listeners.delete(f);
  }

  /** Resolves with the first match of `pattern` in a line; fails if the process exits first or the time runs out. */
  waitFor(pattern: RegExp, timeoutMs: number, what: string): Promise<RegExpExecArray> {
    return new Promise((res, rej) => {
      const timer = setTimeout(() => (off(), rej(new Error(`${what} not ready in ${timeoutMs} ms; its output ends:\n${this.tail}`))), timeoutMs);
      const off = this.onLine((line) => {
        const m = pattern.exec(line);
        if (m) {
          clearTimeout(timer);
          off();
          res(m);
        }
      });
      void this.exited.then((how) => {
        clearTimeout(timer);
        rej(new Error(`${what} ${how} before it was ready; its output ends:\n${this.tail}`));
      });
    });
  }

  async stop(signal: NodeJS.Signals): Promise<string> {
    if (this.running) this.child.kill(signal);
    return this.exited;
  }
}
