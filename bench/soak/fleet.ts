/**
 * The system under soak, each part a process of its own: a real Mosquitto
 * (persistence false, as Debian ships it), VictoriaMetrics when it is the
 * store, one kilowatch server with storage and alert rules, and the
 * simulated fleet as several collector processes, each with a disk spool
 * and a --record file. Everything can be stopped, killed and started again
 * on the same port, data dir, spool and record.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type Mosquitto, freePort, startMosquitto } from '../mosquitto.js';
import { type VictoriaMetrics, startVictoriaMetrics } from '../victoria-metrics.js';
import { type CollectorHealth, parseHealthLine } from './spools.js';
import { type Incarnation, Incarnations, NodeChild } from './procs.js';
import type { SoakOptions } from './options.js';

const ROOT = resolve(import.meta.dirname, '../../..');
const BIN = join(ROOT, 'bin/kilowatch.js');
export const SITE = 'soak';

/** Alert rules evaluated on every window: per GPU and per host, the data-health ones included (a killed collector's hosts go offline). */
const RULES = `rules:
  - { id: gpu-over-limit, type: threshold, target: { kind: gpu }, metric: power_pct_limit, above: 110, clear: 100, severity: critical }
  - { id: gpu-hot, type: threshold, target: { kind: gpu }, metric: temp_c, above: 85, clear: 80, for_s: 30, severity: warning }
  - { id: gpu-power-brake, type: throttle, target: { kind: gpu }, reasons: [power_brake, thermal], severity: warning }
  - { id: gpu-counter-reset, type: counter_backwards, target: { kind: gpu }, severity: info }
  - { id: host-offline, type: offline, target: { kind: host }, severity: critical }
  - { id: gpu-no-data, type: no_data, target: { kind: gpu }, after_s: 10, severity: warning }
  - { id: windows-missing, type: seq_gap, target: { kind: host }, clear_s: 60, severity: info }
`;

export interface Dirs {
  work: string;
  /** The server's data dir: the small tmpfs. */
  data: string;
  logs: string;
  backups: string;
}

export class CollectorSlot {
  proc?: NodeChild;
  inc?: Incarnation;
  /** Health lines of every incarnation of this slot, in order. */
  readonly health: CollectorHealth[] = [];
  /** "stopping with N unacknowledged message(s)" at the last clean stop. */
  leftAtStop = 0;

  constructor(readonly index: number, readonly dir: string) {}

  get name(): string {
    return `collector-${this.index}`;
  }

  get record(): string {
    return join(this.dir, 'record.jsonl');
  }
}

export class Fleet {
  broker?: Mosquitto;
  brokerInc?: Incarnation;
  brokerPort = 0;
  vm?: VictoriaMetrics;
  vmInc?: Incarnation;
  server?: NodeChild;
  serverInc?: Incarnation;
  serverUrl = '';
  readonly collectors: CollectorSlot[];
  private readonly rules: string;

  constructor(readonly opts: SoakOptions, readonly dirs: Dirs, readonly incs: Incarnations) {
    this.collectors = Array.from({ length: opts.collectors }, (_, i) => {
      const dir = join(dirs.work, `collector-${i}`);
      mkdirSync(join(dir, 'spool'), { recursive: true });
      return new CollectorSlot(i, dir);
    });
    this.rules = join(dirs.work, 'alert-rules.yaml');
    writeFileSync(this.rules, RULES);
  }

  get gpus(): number {
    return this.opts.collectors * this.opts.hosts * this.opts.gpus;
  }

  async startBroker(): Promise<void> {
    this.brokerPort ||= await freePort();
    const dir = join(this.dirs.work, 'mosquitto');
    mkdirSync(dir, { recursive: true });
    // Inside the user namespace the soak is root, and Mosquitto could not drop to its own user: it stays.
    this.broker = await startMosquitto({ port: this.brokerPort, dir, persistence: false, ...(process.getuid?.() === 0 && { user: 'root' }) });
    this.brokerInc = this.incs.begin('mosquitto', 'mosquitto', this.broker.pid, false);
  }

  async stopBroker(): Promise<void> {
    await this.broker?.stop();
    this.incs.finish(this.brokerInc, 'stopped (SIGTERM, fault)');
  }

  get brokerUrl(): string {
    return `mqtt://127.0.0.1:${this.brokerPort}`;
  }

  async startVm(): Promise<void> {
    if (!this.vm) this.vm = await startVictoriaMetrics({ windowMs: 1000, dataDir: join(this.dirs.work, 'victoria-metrics') });
    else await this.vm.start();
    this.vmInc = this.incs.begin('victoriametrics', 'victoriametrics', this.vm.pid()!, false);
  }

  async stopVm(how: 'stop' | 'kill'): Promise<void> {
    await (how === 'stop' ? this.vm!.stop() : this.vm!.kill());
    this.incs.finish(this.vmInc, how === 'stop' ? 'stopped (SIGTERM, fault)' : 'SIGKILL (fault)');
  }

  async startServer(): Promise<void> {
    const store = this.opts.store === 'victoriametrics' ? ['--store', 'victoriametrics', '--victoria-url', this.vm!.url] : [];
    const args = ['server', '--broker', this.brokerUrl, '--port', '0', '--data-dir', this.dirs.data, '--alert-rules', this.rules, ...store];
    const inc = this.incs.begin('server', 'server', 0, true);
    const proc = new NodeChild(BIN, args, this.dirs.logs, inc, inc.id);
    inc.pid = proc.pid;
    void proc.exited.then((how) => this.incs.finish(inc, how));
    const m = await proc.waitFor(/server ready at (http:\/\/\S+)/, 120_000, 'kilowatch server');
    this.server = proc;
    this.serverInc = inc;
    this.serverUrl = m[1]!;
  }

  async killServer(): Promise<void> {
    this.incs.finish(this.serverInc, 'SIGKILL (fault)');
    await this.server?.stop('SIGKILL');
  }

  async stopServer(): Promise<string> {
    this.incs.finish(this.serverInc, 'stopped (SIGINT, end of run)');
    return (await this.server?.stop('SIGINT')) ?? 'not running';
  }

  async startCollector(slot: CollectorSlot): Promise<void> {
    const o = this.opts;
    const vm = o.store === 'victoriametrics';
    const args = [
      'collector', '--broker', this.brokerUrl, '--site', SITE, '--source', 'sim', '--hosts', String(o.hosts), '--gpus', String(o.gpus),
      '--host-name', `c${slot.index}`, '--seed', String(slot.index + 1), '--record', slot.record, '--spool-dir', join(slot.dir, 'spool'),
      '--health-log-s', String(o.sampleS),
      // VictoriaMetrics acknowledges 15 s after the write (README, "VictoriaMetrics"); a clean stop waits for the last acks.
      ...(vm ? ['--ack-timeout-ms', '20000'] : []), '--shutdown-wait-ms', '60000',
    ];
    const inc = this.incs.begin('collector', slot.name, 0, true);
    const proc = new NodeChild(BIN, args, this.dirs.logs, inc, inc.id);
    inc.pid = proc.pid;
    void proc.exited.then((how) => this.incs.finish(inc, how));
    proc.onLine((line) => {
      const h = parseHealthLine(line, Date.now());
      if (h) slot.health.push(h);
      const left = /stopping with (\d+) unacknowledged/.exec(line);
      if (left) slot.leftAtStop = Number(left[1]);
    });
    await proc.waitFor(/SIMULATED fleet/, 60_000, `${slot.name}`);
    slot.proc = proc;
    slot.inc = inc;
  }

  async killCollector(slot: CollectorSlot): Promise<void> {
    this.incs.finish(slot.inc, 'SIGKILL (fault)');
    await slot.proc?.stop('SIGKILL');
  }

  /** A clean stop: the collector stops producing and waits (up to 60 s) for the acks of what it holds. */
  async stopCollector(slot: CollectorSlot): Promise<string> {
    this.incs.finish(slot.inc, 'stopped (SIGINT, end of run)');
    return (await slot.proc?.stop('SIGINT')) ?? 'not running';
  }

  async start(log: (line: string) => void): Promise<void> {
    await this.startBroker();
    log(`Mosquitto ${this.brokerUrl} (pid ${this.broker!.pid}, persistence false)`);
    if (this.opts.store === 'victoriametrics') {
      await this.startVm();
      log(`VictoriaMetrics ${this.vm!.url} (pid ${this.vm!.pid()})`);
    }
    await this.startServer();
    log(`server ${this.serverUrl} (pid ${this.server!.pid}, store ${this.opts.store}, data dir ${this.dirs.data})`);
    for (const slot of this.collectors) await this.startCollector(slot);
    log(`${this.collectors.length} collectors x ${this.opts.hosts} hosts x ${this.opts.gpus} GPUs = ${this.gpus} GPUs at 1 Hz (pids ${this.collectors.map((c) => c.proc!.pid).join(', ')})`);
  }

  /** Everything, at the end or after a failure; the collectors first, so they can still hand in their last windows. */
  async stopAll(): Promise<void> {
    await Promise.all(this.collectors.map((c) => (c.proc?.running ? this.stopCollector(c) : undefined)));
    if (this.server?.running) await this.stopServer();
    await this.broker?.stop();
    this.incs.finish(this.brokerInc, 'stopped (end of run)');
    if (this.vm) await this.vm.stop();
    this.incs.finish(this.vmInc, 'stopped (end of run)');
  }
}
