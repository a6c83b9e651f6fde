/**
 * Topic grammar of protocol v1 (protocol/README.md, "Topics").
 *
 *   <prefix>/<site>/<host>/gpu
 *   <prefix>/<site>/<host>/meter/<meter>
 *   <prefix>/<site>/<host>/job
 *   <prefix>/<site>/<host>/work/<job>
 *   <prefix>/<site>/<host>/status | info | _ack
 *   <prefix>/_alerts/<rule>/<target>
 *
 * Every id segment is percent-encoded, because ids may contain '/', '+' or '#'
 * (a Slurm heterogeneous job is "1234+0"). Segments that begin with '_' are
 * reserved for the server, so an id that begins with '_' is encoded as "%5F...".
 */
import { type Result, fail, ok } from './result.js';

export const DEFAULT_PREFIX = 'kilowatch/v1';

/** Characters that stay literal in a segment; everything else is %XX of its UTF-8 bytes. */
const LITERAL = /^[A-Za-z0-9\-._~:]$/;

export function encodeSegment(id: string): string {
  if (id.length === 0) throw new Error('an id must not be empty');
  let out = '';
  for (const byte of new TextEncoder().encode(id)) {
    const ch = String.fromCharCode(byte);
    out += byte < 0x80 && LITERAL.test(ch) ? ch : '%' + byte.toString(16).toUpperCase().padStart(2, '0');
  }
  // A leading '_' would collide with the reserved segments (_ack, _alerts).
  return out.startsWith('_') ? '%5F' + out.slice(1) : out;
}

export function decodeSegment(segment: string): string | undefined {
  if (segment.length === 0) return undefined;
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined; // a malformed %-escape
  }
}

/** Site and host names may not begin with '_' even before encoding (§3). */
export function checkName(kind: 'site' | 'host', name: string): string | undefined {
  if (name.length === 0) return `${kind} name is empty`;
  if (name.startsWith('_')) return `${kind} name "${name}" begins with "_", which is reserved`;
  if (name.length > 253) return `${kind} name is longer than 253 characters`;
  return undefined;
}

export type StreamKind = 'gpu' | 'meter' | 'job' | 'work' | 'status' | 'info' | 'ack';

export interface HostTopic {
  site: string;
  host: string;
  kind: StreamKind;
  /** The meter id for `meter`, the job id for `work`. */
  id?: string;
}

export function hostTopic(prefix: string, site: string, host: string, kind: StreamKind, id?: string): string {
  const base = `${prefix}/${encodeSegment(site)}/${encodeSegment(host)}`;
  switch (kind) {
    case 'meter':
    case 'work':
      if (id === undefined) throw new Error(`a ${kind} topic needs an id`);
      return `${base}/${kind}/${encodeSegment(id)}`;
    case 'ack':
      return `${base}/_ack`;
    default:
      return `${base}/${kind}`;
  }
}

export function alertTopic(prefix: string, rule: string, target: string): string {
  return `${prefix}/_alerts/${encodeSegment(rule)}/${encodeSegment(target)}`;
}

/**
 * The explicit subscription filters for one site (§3). Never '#': that would
 * bring back the server's own _ack messages. `site` may be '+' for every site.
 */
export function siteFilters(prefix: string, site: string): string[] {
  const s = site === '+' ? '+' : encodeSegment(site);
  return ['gpu', 'meter/+', 'job', 'work/+', 'status', 'info'].map((t) => `${prefix}/${s}/+/${t}`);
}

export function parseHostTopic(prefix: string, topic: string): Result<HostTopic> {
  if (!topic.startsWith(prefix + '/')) return fail('bad_topic', `topic "${clip(topic)}" is not under "${prefix}/"`);
  const parts = topic.slice(prefix.length + 1).split('/');
  if (parts.length < 3) return fail('bad_topic', `topic "${clip(topic)}" has too few segments`);
  const [siteSeg, hostSeg, stream, idSeg, ...extra] = parts as [string, string, string, string?, ...string[]];
  const site = decodeSegment(siteSeg);
  const host = decodeSegment(hostSeg);
  if (site === undefined || host === undefined) return fail('bad_topic', `topic "${clip(topic)}" has a bad segment`);
  const nameProblem = checkName('site', site) ?? checkName('host', host);
  if (nameProblem) return fail('bad_topic', nameProblem);
  if (extra.length > 0) return fail('bad_topic', `topic "${clip(topic)}" has too many segments`);

  if (stream === 'meter' || stream === 'work') {
    const id = idSeg === undefined ? undefined : decodeSegment(idSeg);
    if (id === undefined) return fail('bad_topic', `a ${stream} topic needs an id segment`);
    return ok({ site, host, kind: stream, id });
  }
  if (idSeg !== undefined) return fail('bad_topic', `topic "${clip(topic)}" has too many segments`);
  if (stream === '_ack') return ok({ site, host, kind: 'ack' });
  if (stream === 'gpu' || stream === 'job' || stream === 'status' || stream === 'info') {
    return ok({ site, host, kind: stream });
  }
  return fail('unknown_stream', `unknown stream "${clip(stream)}"`);
}

function clip(s: string): string {
  return s.length > 120 ? s.slice(0, 117) + '...' : s;
}
