/**
 * `snmp-pdu`: polls a rack PDU over SNMP v2c or v3 (net-snmp), walks the
 * profile's table columns and reads its scalars, and hands the readings of
 * each poll to the collector (poller.ts). Parsing is parse-snmp-pdu.ts; the
 * timer, deadline and counters are poll-loop.ts.
 *
 * A PDU agent is slow and UDP loses packets, so: one column at a time (an
 * embedded agent answers one request at a time anyway), a per-request timeout
 * well inside the poll's deadline, and at the deadline the session is closed,
 * which fails whatever is still outstanding. Every walk is bounded by
 * `max_rows` per column; a table longer than that is cut and counted.
 */
import { createRequire } from 'node:module';
import type { MeterInfo } from '../../protocol/payloads.js';
import { type MeterReading, isObject } from '../meters/reading.js';
import { EntryFields } from './entry-fields.js';
import { type SnmpVarbind, parseSnmpPdu } from './parse-snmp-pdu.js';
import { PollLoop } from './poll-loop.js';
import type { MeterPoller, PollerDeps, PollerEntry } from './poller.js';
import { type SnmpProfile, profileFromEntry, profileOids } from './snmp-profiles.js';

/** The slice of net-snmp this poller uses (the package ships no types). */
interface NetSnmpVarbind { oid: string; type: number; value: unknown }
interface NetSnmpSession {
  get(oids: string[], cb: (err: Error | null, varbinds?: NetSnmpVarbind[]) => void): void;
  subtree(oid: string, maxRepetitions: number, feed: (vbs: NetSnmpVarbind[]) => boolean | void, done: (err: Error | null) => void): void;
  close(): void;
  on(event: string, cb: (...args: unknown[]) => void): void;
}
interface NetSnmp {
  Version2c: number;
  Version3: number;
  ObjectType: Record<string, number>;
  SecurityLevel: Record<string, number>;
  AuthProtocols: Record<string, number>;
  PrivProtocols: Record<string, number>;
  createSession(host: string, community: string, options: object): NetSnmpSession;
  createV3Session(host: string, user: object, options: object): NetSnmpSession;
  isVarbindError(vb: NetSnmpVarbind): boolean;
}
const snmp = createRequire(import.meta.url)('net-snmp') as NetSnmp;

/** Rows per walked column; a 3-phase PDU chain has a few hundred outlets at most. */
const MAX_ROWS_DEFAULT = 512;
/** Meters one PDU poller may report in `info`. */
const MAX_METERS = 1024;
const MAX_REPETITIONS = 25;
export const DEFAULT_INTERVAL_MS = 10_000;
export const DEFAULT_TIMEOUT_MS = 5000;

export interface SnmpTarget {
  host: string;
  port: number;
  version: '2c' | '3';
  community: string;
  user?: { name: string; level: 'noAuthNoPriv' | 'authNoPriv' | 'authPriv'; authProtocol?: string; authKey?: string; privProtocol?: string; privKey?: string };
  maxRows: number;
}

const AUTH = ['md5', 'sha', 'sha224', 'sha256', 'sha384', 'sha512'] as const;
const PRIV = ['des', 'aes', 'aes256b', 'aes256r'] as const;
const LEVELS = ['noAuthNoPriv', 'authNoPriv', 'authPriv'] as const;
const HOST = /^[A-Za-z0-9.:[\]_-]+$/;

const USER_KEYS = ['name', 'level', 'auth_protocol', 'auth_key', 'priv_protocol', 'priv_key'];

/** The v3 user of an entry (`user: {name, level, auth_protocol, auth_key, priv_protocol, priv_key}`), with a problem per bad field. */
function v3User(raw: unknown, f: EntryFields, where: string): SnmpTarget['user'] {
  if (!isObject(raw)) {
    f.problem('user', `is required for version 3: {${USER_KEYS.join(', ')}}`);
    return undefined;
  }
  const u = new EntryFields(raw as PollerEntry, `${where}: user`);
  for (const key of Object.keys(raw)) if (!USER_KEYS.includes(key)) u.problem(key, `is not a user setting (known: ${USER_KEYS.join(', ')})`);
  const name = u.string('name', { required: true });
  const level = u.oneOf('level', LEVELS, 'authPriv');
  const auth = level !== 'noAuthNoPriv';
  const priv = level === 'authPriv';
  const authProtocol = u.oneOf('auth_protocol', AUTH, 'sha');
  const authKey = u.string('auth_key', { required: auth });
  const privProtocol = u.oneOf('priv_protocol', PRIV, 'aes');
  const privKey = u.string('priv_key', { required: priv });
  f.problems.push(...u.problems);
  if (!name || (auth && !authKey) || (priv && !privKey)) return undefined;
  return { name, level, ...(auth && { authProtocol, authKey }), ...(priv && { privProtocol, privKey }) };
}

/** The connection settings of an entry: host, port, v2c community or v3 user, and the row bound of a walk. */
export function snmpTargetFromEntry(entry: PollerEntry, where: string): { target: SnmpTarget; problems: string[] } {
  const f = new EntryFields(entry, where);
  f.onlyKeys(['host', 'port', 'version', 'community', 'user', 'profile', 'oids', 'max_rows']);
  // YAML reads `version: 3` as a number.
  const version = entry.version === undefined ? '2c' : String(entry.version);
  if (version !== '2c' && version !== '3') f.problem('version', `must be 2c or 3, got ${JSON.stringify(entry.version)}`);
  const target: SnmpTarget = {
    host: f.string('host', { required: true, pattern: HOST, patternText: 'a host name or address' }) ?? '',
    port: f.int('port', 1, 65535) ?? 161,
    version: version === '3' ? '3' : '2c',
    community: f.string('community') ?? 'public',
    maxRows: f.int('max_rows', 1, 100_000) ?? MAX_ROWS_DEFAULT,
  };
  if (version === '3') {
    const user = v3User(entry.user, f, where);
    if (user) target.user = user;
  } else if (entry.user !== undefined) f.problem('user', 'applies to version 3 only');
  return { target, problems: f.problems };
}

/** Every problem of an snmp-pdu entry: connection settings, then profile and OID map. */
export function snmpPduSettings(entry: PollerEntry, where: string): { target: SnmpTarget; profile?: SnmpProfile; problems: string[] } {
  const { target, problems } = snmpTargetFromEntry(entry, where);
  const profile = profileFromEntry(entry, where);
  return profile.ok ? { target, profile: profile.profile, problems } : { target, problems: [...problems, ...profile.problems] };
}


/** A varbind as parse-snmp-pdu.ts takes it: numbers as numbers, text as text, "no such" as null. */
export function plainVarbind(vb: NetSnmpVarbind): SnmpVarbind {
  if (snmp.isVarbindError(vb)) return { oid: vb.oid, value: null };
  const v = vb.value;
  if (typeof v === 'number') return { oid: vb.oid, value: v };
  if (Buffer.isBuffer(v)) {
    // Counter64 arrives as the big-endian bytes of the integer.
    if (vb.type === snmp.ObjectType.Counter64) return { oid: vb.oid, value: v.length > 0 && v.length <= 8 ? Number(BigInt(`0x${v.toString('hex')}`)) : String(v) };
    return { oid: vb.oid, value: v.toString('utf8') };
  }
  return { oid: vb.oid, value: typeof v === 'string' ? v : String(v) };
}

export class SnmpPduPoller implements MeterPoller {
  readonly kind = 'snmp-pdu' as const;
  readonly id: string;
  private loop: PollLoop<SnmpVarbind[]> | undefined;
  private session: NetSnmpSession | undefined;
  private readonly known = new Map<string, MeterInfo>();
  private readonly counters = { readings: 0, bad_value: 0, ignored_varbinds: 0, rows_truncated: 0, meters_dropped: 0 };
  private readonly logged = new Set<string>();

  private readonly target: SnmpTarget;
  private readonly profile: SnmpProfile;
  private readonly intervalMs: number;
  private readonly timeoutMs: number;

  /** From an entry the registry has checked (snmpPduSettings); constructors only assign. */
  constructor(
    entry: PollerEntry,
    private readonly deps: PollerDeps,
  ) {
    this.id = entry.id;
    const settings = snmpPduSettings(entry, `snmp-pdu ${entry.id}`);
    if (!settings.profile) throw new Error(settings.problems.join('; '));
    this.target = settings.target;
    this.profile = settings.profile;
    this.intervalMs = entry.interval_ms ?? DEFAULT_INTERVAL_MS;
    this.timeoutMs = entry.timeout_ms ?? DEFAULT_TIMEOUT_MS;
  }

  start(emit: (reading: MeterReading, atMs: number) => void): void {
    this.loop = new PollLoop({
      intervalMs: () => this.intervalMs,
      timeoutMs: () => this.timeoutMs,
      poll: (signal) => this.pollOnce(signal),
      onResult: (varbinds, atMs) => this.accept(varbinds, atMs, emit),
      onFailure: (kind, detail) => {
        this.dropSession(); // a half-answered session may hold stale requests: start clean
        this.note(kind, `collector pollers: snmp-pdu ${this.id} (${this.target.host}): ${kind}: ${detail}`);
      },
      now: this.deps.now,
    });
    this.loop.start();
  }

  async stop(): Promise<void> {
    await this.loop?.stop();
    this.dropSession();
  }

  meters(): MeterInfo[] {
    return [...this.known.values()];
  }

  health(): Record<string, number> {
    return { ...(this.loop?.counters ?? { polls: 0, ok: 0, timeout: 0, error: 0, busy: 0 }), ...this.counters };
  }

  /** One poll: every walked column, then the scalars. Public for tests that drive it without the timer. */
  async pollOnce(signal: AbortSignal): Promise<SnmpVarbind[]> {
    const session = this.openSession();
    const onAbort = () => this.dropSession();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      const { walk, get } = profileOids(this.profile);
      const out: SnmpVarbind[] = [];
      for (const oid of walk) {
        if (signal.aborted) throw signal.reason;
        out.push(...(await this.walkColumn(session, oid)));
      }
      if (get.length > 0) out.push(...(await this.getScalars(session, get)));
      return out;
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  private walkColumn(session: NetSnmpSession, oid: string): Promise<SnmpVarbind[]> {
    return new Promise((resolve, reject) => {
      const rows: SnmpVarbind[] = [];
      session.subtree(oid, MAX_REPETITIONS, (vbs) => {
        for (const vb of vbs) {
          if (rows.length >= this.target.maxRows) {
            this.counters.rows_truncated += 1;
            this.note(`rows:${oid}`, `collector pollers: snmp-pdu ${this.id}: column ${oid} has more than max_rows (${this.target.maxRows}) rows; the rest is not read`);
            return true; // stop walking: the bound is the point
          }
          rows.push(plainVarbind(vb));
        }
        return false;
      }, (err) => (err ? reject(err) : resolve(rows)));
    });
  }

  private getScalars(session: NetSnmpSession, oids: string[]): Promise<SnmpVarbind[]> {
    return new Promise((resolve, reject) => {
      session.get(oids.map((o) => o.replace(/^\./, '')), (err, vbs) => (err ? reject(err) : resolve((vbs ?? []).map(plainVarbind))));
    });
  }

  private accept(varbinds: SnmpVarbind[], atMs: number, emit: (reading: MeterReading, atMs: number) => void): void {
    const parsed = parseSnmpPdu(varbinds, this.profile, this.id);
    this.counters.ignored_varbinds += parsed.ignored;
    for (const p of parsed.problems) {
      this.counters.bad_value += 1;
      this.note(`bad:${p.meter}`, `collector pollers: snmp-pdu ${this.id}: meter ${p.meter} left out of this poll: ${p.detail}`);
    }
    for (const r of parsed.readings) {
      if (!this.remember(r, parsed.names.get(r.meter))) continue;
      this.counters.readings += 1;
      emit(r, atMs);
    }
  }

  /** Adds the meter to the inventory; false when the inventory is full and the meter is new. */
  private remember(r: MeterReading, name: string | undefined): boolean {
    const before = this.known.get(r.meter);
    if (!before && this.known.size >= MAX_METERS) {
      this.counters.meters_dropped += 1;
      return false;
    }
    const supports = {
      energy_counter: (before?.supports.energy_counter ?? false) || r.energy_import_wh !== undefined,
      instant_power: (before?.supports.instant_power ?? false) || r.power_w !== undefined,
    };
    this.known.set(r.meter, { id: r.meter, kind: 'snmp-pdu', ...((name ?? before?.name) && { name: name ?? before?.name }), supports });
    return true;
  }

  private openSession(): NetSnmpSession {
    if (this.session) return this.session;
    const t = this.target;
    // net-snmp's own timer per request, with one retry, fits twice inside the poll's deadline.
    const options = { port: t.port, retries: 1, timeout: Math.max(200, Math.floor(this.timeoutMs / 3)), transport: t.host.includes(':') ? 'udp6' : 'udp4' };
    const session = t.version === '3'
      ? snmp.createV3Session(t.host, {
          name: t.user!.name,
          level: snmp.SecurityLevel[t.user!.level],
          ...(t.user!.authProtocol && { authProtocol: snmp.AuthProtocols[t.user!.authProtocol], authKey: t.user!.authKey }),
          ...(t.user!.privProtocol && { privProtocol: snmp.PrivProtocols[t.user!.privProtocol], privKey: t.user!.privKey }),
        }, { ...options, version: snmp.Version3 })
      : snmp.createSession(t.host, t.community, { ...options, version: snmp.Version2c });
    session.on('error', () => this.dropSession());
    this.session = session;
    return session;
  }

  private dropSession(): void {
    const s = this.session;
    this.session = undefined;
    try {
      s?.close(); // fails every request still outstanding with "Socket forcibly closed"
    } catch {
      // already closed
    }
  }

  private note(key: string, line: string): void {
    if (this.logged.has(key) || this.logged.size > 256) return;
    this.logged.add(key);
    this.deps.log(line);
  }
}
