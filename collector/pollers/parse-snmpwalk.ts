/**
 * The text of `snmpwalk -On` (net-snmp) -> the varbinds parse-snmp-pdu.ts
 * reads, so `--replay` takes a PDU walk an operator captured with the standard
 * tool: `snmpwalk -On -v2c -c public <pdu> .1.3.6.1.4.1.318.1.1.26 > walk.txt`.
 * Pure.
 *
 * The layout is net-snmp's, checked with snmpwalk 5.9.3 against Debian's
 * snmpd (test/fixtures/snmp/snmpwalk/README.md): one varbind a line,
 * `<numeric OID> = <TYPE>: <value>`, e.g. `.1.3.6.1.4.1.318.1.1.26.4.3.1.5.1 = INTEGER: 613`;
 * an empty string as `= ""`; the agent's exceptions as text ("No Such
 * Object ...", "No Such Instance ...", "No more variables ..."), which are
 * absent values; a STRING that holds a newline, and a Hex-STRING longer than
 * 16 bytes, go on over the following lines.
 *
 * Values are the raw integers the profiles scale: a vendor MIB loaded beside
 * -On can make snmpwalk print an enum label (`normal(1)`, read as 1) or a
 * UNITS suffix (`230 Volts`, read as 230), both harmless, or apply a
 * DISPLAY-HINT (`12.3` for a raw 123), which would be scaled twice: such a
 * value is refused with its reason, never guessed.
 *
 * The walk does not say which PDU it came from: the profile is the built-in
 * one whose OIDs it holds, or the one a `# profile: <name>` comment names.
 */
import type { SnmpVarbind } from './parse-snmp-pdu.js';
import { SNMP_PROFILES, type SnmpProfile, profileOids } from './snmp-profiles.js';

export type WalkProblemReason = 'not_a_varbind' | 'symbolic_oid' | 'display_hint' | 'unterminated_string' | 'too_long' | 'too_many';

export interface WalkProblem {
  /** 1-based line of the input. */
  line: number;
  reason: WalkProblemReason;
  detail: string;
}

export interface SnmpWalk {
  varbinds: SnmpVarbind[];
  /** The profile a `# profile: <name>` comment names, as written (checked by walkProfile). */
  profile?: string;
  /** Lines or varbinds left out, by reason; every one is counted here. */
  skipped: Partial<Record<WalkProblemReason, number>>;
  /** The first MAX_WALK_PROBLEMS of them, with their line. */
  problems: WalkProblem[];
}

/** A chain of a few PDUs with 48 outlets and every rPDU2 column is a few thousand varbinds. */
export const MAX_WALK_VARBINDS = 65_536;
/** An outlet label is at most a few dozen characters; a longer value is a broken capture. */
export const MAX_VALUE_CHARS = 4096;
export const MAX_WALK_PROBLEMS = 20;

const LINE = /^(\S+) = (.*)$/;
const NUMERIC_OID = /^\.?\d+(?:\.\d+)+$/;
const PROFILE_COMMENT = /^#\s*profile:\s*(\S+)\s*$/;
const HEX_BYTES = /^(?:[0-9A-Fa-f]{2} ?)+$/;
/** INTEGER and the unsigned types: a number, an enum label around it, or a number and a UNITS suffix. */
const INTEGER_TEXT = /^(?:[A-Za-z][\w-]*\((-?\d+)\)|(-?\d+)(?: [^\d\s.][^]*)?)$/;
const INTEGER_TYPES = new Set(['INTEGER', 'Gauge32', 'Counter32', 'Counter64', 'Unsigned32', 'UInteger32']);
/** What the agent answers for an OID it has no value for (RFC 3416 exceptions, as net-snmp words them). */
const EXCEPTIONS = ['No Such Object available', 'No Such Instance currently exists', 'No more variables left in this MIB View'];

type Value = { value: number | string | null } | { reason: WalkProblemReason; detail: string };

/** net-snmp names the type it got when a loaded MIB expects another, then prints the value as usual. */
const withoutWrongType = (raw: string) => raw.replace(/^Wrong Type \(should be [^)]*\): /, '');

/** Whether a quoted STRING value ends on this text: a closing quote that no backslash escapes. */
function closesQuote(text: string, from: number): boolean {
  let escaped = false;
  for (let i = from; i < text.length; i++) {
    if (escaped) escaped = false;
    else if (text[i] === '\\') escaped = true;
    else if (text[i] === '"' && i === text.length - 1) return true;
  }
  return false;
}

/** One value as snmpwalk prints it (after `= `), continuation lines already joined with "\n". */
function readValue(raw: string): Value {
  if (EXCEPTIONS.some((e) => raw.startsWith(e))) return { value: null };
  if (raw === '""') return { value: '' };
  const text = withoutWrongType(raw);
  const colon = text.indexOf(': ');
  const type = colon > 0 ? text.slice(0, colon) : text;
  const body = colon > 0 ? text.slice(colon + 2) : '';
  if (INTEGER_TYPES.has(type)) {
    const m = INTEGER_TEXT.exec(body.trim());
    // A Counter64 past 2^53 loses its last digits as a number; no PDU counter (Wh) comes near it.
    if (m) return { value: Number(m[1] ?? m[2]) };
    if (/^-?\d+\.\d+/.test(body)) return { reason: 'display_hint', detail: `${type} printed as ${JSON.stringify(body.slice(0, 40))}: a MIB's DISPLAY-HINT moved the decimal point; record the walk without the vendor's MIB loaded, which prints the raw integer` };
    return { value: body };
  }
  if (type === 'Timeticks') {
    const m = /^\((\d+)\)/.exec(body);
    return { value: m ? Number(m[1]) : body };
  }
  if (type === 'Opaque') {
    const m = /^(?:Float|Double): (\S+)$/.exec(body);
    return { value: m && Number.isFinite(Number(m[1])) ? Number(m[1]) : body };
  }
  if (type === 'STRING') {
    // Quoted as net-snmp prints it without a MIB, with \" and \\ escaped; bare with a DisplayString hint.
    if (!body.startsWith('"')) return { value: body };
    return { value: body.slice(1, body.endsWith('"') && body.length > 1 ? -1 : undefined).replace(/\\(["\\])/g, '$1') };
  }
  if (type === 'Hex-STRING') {
    const bytes = body.replace(/\s+/g, '');
    return { value: Buffer.from(bytes, 'hex').toString('utf8') };
  }
  // OID, IpAddress, BITS, NULL ...: no profile reads them as a number, so their text is enough.
  return { value: body || text };
}

/** The varbinds of a walk, with every line that is not one counted by reason. */
export function parseSnmpwalk(text: string): SnmpWalk {
  const walk: SnmpWalk = { varbinds: [], skipped: {}, problems: [] };
  const problem = (line: number, reason: WalkProblemReason, detail: string) => {
    walk.skipped[reason] = (walk.skipped[reason] ?? 0) + 1;
    if (walk.problems.length < MAX_WALK_PROBLEMS) walk.problems.push({ line, reason, detail });
  };
  const lines = text.split(/\r?\n/);
  // The varbind being read: its value may go on over the next lines.
  let open: { oid: string; raw: string; line: number; more: 'quote' | 'hex' | undefined } | undefined;
  const finish = () => {
    if (!open) return;
    const { oid, raw, line } = open;
    open = undefined;
    if (raw.length > MAX_VALUE_CHARS) return problem(line, 'too_long', `the value of ${oid} is longer than ${MAX_VALUE_CHARS} characters`);
    if (walk.varbinds.length >= MAX_WALK_VARBINDS) return problem(line, 'too_many', `more than ${MAX_WALK_VARBINDS} varbinds; the rest are left out`);
    const v = readValue(raw);
    if ('reason' in v) problem(line, v.reason, `${oid}: ${v.detail}`);
    else walk.varbinds.push({ oid, value: v.value });
  };
  const unterminated = () => {
    problem(open!.line, 'unterminated_string', `the STRING value of ${open!.oid} has no closing quote (a cut capture)`);
    open = undefined;
  };
  lines.forEach((line, i) => {
    const n = i + 1;
    const trimmed = line.trim();
    const m = LINE.exec(trimmed);
    const varbindLine = m !== null && NUMERIC_OID.test(m[1]!);
    if (open?.more === 'quote') {
      // A string with a newline goes on; a new varbind line means the quote was cut, never that it holds one.
      if (varbindLine) unterminated();
      else {
        // Bounded: a quote that never closes stops adding once the value is too long.
        if (open.raw.length <= MAX_VALUE_CHARS) open.raw += `\n${line}`;
        if (closesQuote(line, 0)) open.more = undefined;
        return;
      }
    }
    if (open?.more === 'hex' && !m && HEX_BYTES.test(trimmed)) {
      if (open.raw.length <= MAX_VALUE_CHARS) open.raw += ` ${trimmed}`;
      return;
    }
    finish();
    if (!trimmed) return;
    if (trimmed.startsWith('#')) {
      const named = PROFILE_COMMENT.exec(trimmed);
      if (named && walk.profile === undefined) walk.profile = named[1];
      return;
    }
    if (!m) return problem(n, 'not_a_varbind', JSON.stringify(trimmed.slice(0, 80)));
    const [, oid, raw] = m as unknown as [string, string, string];
    if (!varbindLine) return problem(n, 'symbolic_oid', `${oid.slice(0, 80)}: record the walk with -On (numeric OIDs)`);
    const body = withoutWrongType(raw);
    let more: 'quote' | 'hex' | undefined;
    if (body.startsWith('STRING: "') && !closesQuote(body, 'STRING: "'.length)) more = 'quote';
    else if (body.startsWith('Hex-STRING: ')) more = 'hex';
    open = { oid: oid.startsWith('.') ? oid.slice(1) : oid, raw, line: n, more };
  });
  if (open?.more === 'quote') unterminated();
  finish();
  return walk;
}

/** The OID every walked column of a profile lies under: what to walk to capture it. */
export function profileRoot(p: SnmpProfile): string {
  const oids = [...profileOids(p).walk, ...profileOids(p).get].map((o) => o.replace(/^\./, '').split('.'));
  const first = oids[0] ?? [];
  let n = first.length;
  for (const o of oids) {
    let k = 0;
    while (k < n && k < o.length && o[k] === first[k]) k++;
    n = k;
  }
  return first.slice(0, n).join('.');
}

function holds(walk: SnmpWalk, p: SnmpProfile): boolean {
  const { walk: columns, get } = profileOids(p);
  const prefixes = columns.map((c) => `${c.replace(/^\./, '')}.`);
  const exact = new Set(get.map((g) => g.replace(/^\./, '')));
  return walk.varbinds.some((vb) => exact.has(vb.oid) || prefixes.some((c) => vb.oid.startsWith(c)));
}

/** The profile of a walk: the one its comment names, else the one built-in profile whose OIDs it holds. */
export function walkProfile(walk: SnmpWalk, profiles: Readonly<Record<string, SnmpProfile>> = SNMP_PROFILES): { ok: true; profile: SnmpProfile } | { ok: false; detail: string } {
  const names = Object.keys(profiles);
  if (walk.profile !== undefined) {
    const named = profiles[walk.profile];
    return named ? { ok: true, profile: named } : { ok: false, detail: `the walk names profile ${JSON.stringify(walk.profile)}; the built-in profiles are ${names.join(', ')}` };
  }
  const found = Object.values(profiles).filter((p) => holds(walk, p));
  if (found.length === 1) return { ok: true, profile: found[0]! };
  const roots = Object.values(profiles).map((p) => `${p.name}: .${profileRoot(p)}`).join('; ');
  if (found.length === 0) return { ok: false, detail: `no OID of a built-in profile in the walk (walk the PDU under ${roots})` };
  return { ok: false, detail: `the walk holds OIDs of ${found.map((p) => p.name).join(' and ')}: name one in a first line "# profile: <name>"` };
}
