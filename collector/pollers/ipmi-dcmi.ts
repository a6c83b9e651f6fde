/**
 * The `ipmi-dcmi` poller: runs `ipmitool dcmi power reading` at an interval,
 * on the local BMC (through the kernel's IPMI driver) or on a remote one over
 * `-I lanplus -H <host> -U <user>`, and reads its text (parse-ipmi-dcmi.ts).
 *
 * - The password never goes on the command line: argv is readable by every
 *   user through /proc/<pid>/cmdline. It goes through the environment
 *   (`-E`, IPMI_PASSWORD) or a file (`-f`), both of which ipmitool(1) reads.
 * - A hung ipmitool (lanplus retrying a BMC that does not answer, a wedged
 *   kernel driver) is killed with SIGKILL at the poll's deadline and counted
 *   as `timeout`; SIGTERM can sit unanswered in a blocking driver call.
 * - Output is bounded (MAX_OUTPUT_BYTES); the answer is a few hundred bytes.
 * - The power goes out as `power_w` (the instantaneous reading). DCMI's own
 *   minimum, maximum and average cover the BMC's statistics period, which can
 *   be an hour; the meter window makes its own over the collector's samples.
 *   DCMI has no energy counter: the server integrates the power.
 */
import { ProblemLog } from './problem-log.js';
import { spawn } from 'node:child_process';
import type { MeterInfo } from '../../protocol/payloads.js';
import type { MeterReading } from '../meters/reading.js';
import { EntryFields } from './entry-fields.js';
import { type DcmiReason, dcmiMeterReading } from './parse-ipmi-dcmi.js';
import { PollLoop } from './poll-loop.js';
import type { MeterPoller, PollerDeps, PollerEntry } from './poller.js';

export const DEFAULT_INTERVAL_MS = 5000;
/** lanplus waits about 1 s per try and retries; a local driver answers in milliseconds. */
export const DEFAULT_TIMEOUT_MS = 5000;
export const MAX_OUTPUT_BYTES = 64 * 1024;
/** The end of stderr kept for the log when ipmitool fails. */
const STDERR_TAIL = 400;

export interface IpmiDcmiSettings {
  command: string;
  host?: string;
  interface?: string;
  username?: string;
  password?: string;
  passwordFile?: string;
  extraArgs: string[];
}

export function ipmiDcmiSettings(entry: PollerEntry, where: string): { settings: IpmiDcmiSettings; problems: string[] } {
  const f = new EntryFields(entry, where);
  f.onlyKeys(['command', 'host', 'interface', 'username', 'password', 'password_file', 'extra_args']);
  const settings: IpmiDcmiSettings = {
    command: f.string('command') ?? 'ipmitool',
    host: f.string('host', { pattern: /^[A-Za-z0-9.:[\]_-]+$/, patternText: 'a host name or address' }),
    interface: f.string('interface', { pattern: /^[a-z]+$/, patternText: 'an ipmitool interface name such as lanplus or open' }),
    username: f.string('username'),
    password: f.string('password'),
    passwordFile: f.string('password_file'),
    extraArgs: f.strings('extra_args') ?? [],
  };
  if (!settings.host && (settings.username || settings.password || settings.passwordFile)) f.problem('username', 'and passwords apply to a remote BMC only: set host');
  if (settings.password && settings.passwordFile) f.problem('password', 'and password_file are both set; keep one');
  return { settings, problems: f.problems };
}

/** The arguments of one run; the password is never among them. */
export function ipmitoolArgs(s: IpmiDcmiSettings): string[] {
  const args: string[] = [];
  if (s.host) args.push('-I', s.interface ?? 'lanplus', '-H', s.host);
  else if (s.interface) args.push('-I', s.interface);
  if (s.username) args.push('-U', s.username);
  if (s.password) args.push('-E');
  if (s.passwordFile) args.push('-f', s.passwordFile);
  return [...args, ...s.extraArgs, 'dcmi', 'power', 'reading'];
}

/** Runs a command to completion; rejects on a non-zero exit, on oversized output, and when the signal aborts (killing it). */
export function runCommand(command: string, args: string[], env: NodeJS.ProcessEnv, signal: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const child = spawn(command, args, { env, signal, killSignal: 'SIGKILL', stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString('utf8');
      if (out.length > MAX_OUTPUT_BYTES) child.kill('SIGKILL');
    });
    child.stderr.on('data', (d: Buffer) => (err = (err + d.toString('utf8')).slice(-STDERR_TAIL)));
    child.on('error', (e) => reject(signal.aborted ? signal.reason : e));
    child.on('close', (code, sig) => {
      if (signal.aborted) return reject(signal.reason);
      if (out.length > MAX_OUTPUT_BYTES) return reject(new Error(`${command}: more than ${MAX_OUTPUT_BYTES} bytes of output`));
      if (code !== 0) return reject(new Error(`${command} exited with ${code ?? sig}: ${err.trim().replace(/\s+/g, ' ') || '(no message)'}`));
      resolve(out);
    });
  });
}

export class IpmiDcmiPoller implements MeterPoller {
  readonly kind = 'ipmi-dcmi' as const;
  readonly id: string;
  private readonly settings: IpmiDcmiSettings;
  private readonly loop: PollLoop<string>;
  private readonly counters: Record<'readings' | DcmiReason, number> = { readings: 0, deactivated: 0, incomplete: 0, unreadable: 0, bad_value: 0 };
  private emit: (reading: MeterReading, atMs: number) => void = () => undefined;
  private readonly problems: ProblemLog;

  constructor(
    entry: PollerEntry,
    deps: PollerDeps,
  ) {
    this.id = entry.id;
    this.problems = new ProblemLog(deps.log);
    this.settings = ipmiDcmiSettings(entry, `ipmi-dcmi ${entry.id}`).settings;
    const timeout = entry.timeout_ms ?? DEFAULT_TIMEOUT_MS;
    // The child inherits the collector's environment (PATH, proxies) with the C locale, so labels and numbers print as parsed.
    const env = { ...process.env, LC_ALL: 'C', ...(this.settings.password && { IPMI_PASSWORD: this.settings.password }) };
    this.loop = new PollLoop<string>({
      intervalMs: () => entry.interval_ms ?? DEFAULT_INTERVAL_MS,
      timeoutMs: () => timeout,
      poll: (signal) => runCommand(this.settings.command, ipmitoolArgs(this.settings), env, signal),
      onResult: (text, at) => this.onResult(text, at),
      onFailure: (kind, detail) => this.problems.problem(`ipmi-dcmi ${this.id}: ${kind === 'timeout' ? 'ipmitool killed at the deadline' : 'ipmitool failed'}: ${detail}`),
      now: deps.now,
    });
  }

  start(emit: (reading: MeterReading, atMs: number) => void): void {
    this.emit = emit;
    this.loop.start();
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }

  meters(): MeterInfo[] {
    const name = this.settings.host ? `DCMI power of the BMC at ${this.settings.host}` : 'DCMI power of the local BMC';
    return [{ id: this.id, kind: 'ipmi-dcmi', name, supports: { energy_counter: false, instant_power: true } }];
  }

  health(): Record<string, number> {
    return { ...this.loop.counters, ...this.counters };
  }

  private onResult(text: string, atMs: number): void {
    const parsed = dcmiMeterReading(this.id, text);
    if (!parsed.ok) {
      this.counters[parsed.reason] += 1;
      return this.problems.problem(`ipmi-dcmi ${this.id}: no reading (${parsed.reason}): ${parsed.detail}`);
    }
    this.problems.recovered(`ipmi-dcmi ${this.id}: reading again`);
    this.counters.readings += 1;
    this.emit(parsed.reading, atMs);
  }

}
