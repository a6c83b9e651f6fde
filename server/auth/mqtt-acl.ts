/**
 * Least privilege on the embedded broker: what each MQTT credential may
 * publish and subscribe to. Pure: an identity and a topic in, yes or no out.
 * - collector (site S, host H): publishes only under `<prefix>/S/H/` (never
 *   `_ack`, which is the server's), subscribes only to its own `_ack` and to
 *   the vendor meter topics configured for it;
 * - meter (vendor topics): publishes and subscribes only within its topics
 *   (a Tasmota plug's `tele/plug-7/#`, its `cmnd/plug-7/#`);
 * - app (site S, host H): publishes only work counters, `<prefix>/S/H/work/...`;
 * - server: the kilowatch server itself (and an all-in-one's own collector).
 */
import { encodeSegment } from '../../protocol/topics.js';

export const MQTT_ROLES = ['collector', 'meter', 'app'] as const;
export type MqttRole = (typeof MQTT_ROLES)[number] | 'server';

export interface MqttIdentity {
  name: string;
  role: MqttRole;
  site?: string;
  host?: string;
  /** Vendor topic filters (meters; a collector's meter topics). */
  topics?: readonly string[];
}

/** MQTT topic-filter matching: `+` one level, `#` the rest (also the parent level). */
export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

/** Whether every topic a requested filter can match is also matched by an allowed filter. */
export function filterWithin(requested: string, allowed: string): boolean {
  const r = requested.split('/');
  const a = allowed.split('/');
  for (let i = 0; i < a.length; i++) {
    if (a[i] === '#') return true;
    if (i >= r.length) return false;
    if (r[i] === '#') return false; // wider than a level-bounded allowance
    if (a[i] !== '+' && (r[i] === '+' || r[i] !== a[i])) return false;
  }
  return r.length === a.length;
}

function hostRoot(prefix: string, id: MqttIdentity): string | undefined {
  return id.site !== undefined && id.host !== undefined ? `${prefix}/${encodeSegment(id.site)}/${encodeSegment(id.host)}/` : undefined;
}

export function mayPublish(id: MqttIdentity, topic: string, prefix: string): boolean {
  if (id.role === 'server') return true;
  const root = hostRoot(prefix, id);
  switch (id.role) {
    case 'collector':
      return root !== undefined && topic.startsWith(root) && !topic.slice(root.length).startsWith('_');
    case 'app':
      return root !== undefined && topic.startsWith(`${root}work/`);
    case 'meter':
      return (id.topics ?? []).some((f) => topicMatches(f, topic));
  }
}

export function maySubscribe(id: MqttIdentity, filter: string, prefix: string): boolean {
  if (id.role === 'server') return true;
  const root = hostRoot(prefix, id);
  if (id.role === 'collector' && root !== undefined && filter === `${root}_ack`) return true;
  if (id.role === 'collector' || id.role === 'meter') return (id.topics ?? []).some((a) => filterWithin(filter, a));
  return false;
}
