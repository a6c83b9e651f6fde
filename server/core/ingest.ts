/**
 * Classifies one MQTT message: a pure function of (topic, payload, policy,
 * now) that returns a typed message or a reject with its reason. It never
 * throws, whatever the input, so the message loop never sees an exception.
 */
import type { GpuWindow, HostInfo, HostStatus, JobEvent, MeterWindow, WorkReport } from '../../protocol/payloads.js';
import type { RejectReason } from '../../protocol/result.js';
import { parseHostTopic } from '../../protocol/topics.js';
import type { Result } from '../../protocol/result.js';
import { parseJson, validateGpuWindow, validateInfo, validateJobEvent, validateMeterWindow, validateStatus, validateWorkReport } from '../../protocol/validate.js';

export interface IngestPolicy {
  prefix: string;
  maxPayloadBytes: number;
  /** Allowed clock skew: a window starting later than now + this is rejected. */
  maxFutureMs: number;
  /** A window or job event older than this (the store's retention) is rejected as too_old rather than stored and dropped. */
  maxAgeMs?: number;
  /** Sustained messages per second one host may send (core/host-rate.ts); for the reject's detail. */
  maxHostRate?: number;
}

interface From {
  site: string;
  host: string;
}

export type Ingested =
  | (From & { kind: 'gpu'; window: GpuWindow })
  | (From & { kind: 'job'; event: JobEvent })
  /** `meter` is the id as decoded from the topic; `stream` is `meter/<segment as in the topic>`, the delivery key. */
  | (From & { kind: 'meter'; meter: string; stream: string; window: MeterWindow })
  /** Cumulative work of the job named in the topic (not spooled: a lost report costs resolution only). */
  | (From & { kind: 'work'; job: string; report: WorkReport })
  | (From & { kind: 'status'; status: HostStatus })
  | (From & { kind: 'info'; info: HostInfo })
  /** An empty retained payload clears a retained topic: nothing to do. */
  | (From & { kind: 'cleared' })
  | {
      kind: 'reject'; reason: RejectReason; detail: string; site?: string; host?: string;
      /** The stream header, when it could be read: a permanent reject is then settled and acknowledged. */
      header?: SettleHeader;
    };

export interface SettleHeader {
  stream: string;
  boot_id: string;
  seq: number;
  first_seq?: number;
}

/** Reads just enough of a rejected message to settle it; undefined when even that is broken. */
export function readHeader(stream: string, value: unknown): SettleHeader | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const o = value as Record<string, unknown>;
  const { boot_id, seq, first_seq } = o;
  if (typeof boot_id !== 'string' || boot_id.length === 0 || boot_id.length > 64) return undefined;
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) return undefined;
  const first = typeof first_seq === 'number' && Number.isSafeInteger(first_seq) && first_seq >= 0 && first_seq <= seq ? first_seq : undefined;
  return first === undefined ? { stream, boot_id, seq } : { stream, boot_id, seq, first_seq: first };
}

/** The spooled streams: what validates each, and how its time is described in a `future` reject. */
const SPOOLED: Record<'gpu' | 'meter' | 'job', { validate: (v: unknown) => Result<GpuWindow | MeterWindow | JobEvent>; dated: string }> = {
  gpu: { validate: validateGpuWindow, dated: 'window starts' },
  meter: { validate: validateMeterWindow, dated: 'meter window starts' },
  job: { validate: validateJobEvent, dated: 'job event is dated' },
};

export function ingest(topic: string, payload: Uint8Array, policy: IngestPolicy, now: number): Ingested {
  const parsedTopic = parseHostTopic(policy.prefix, topic);
  if (!parsedTopic.ok) return { kind: 'reject', reason: parsedTopic.reason, detail: parsedTopic.detail };
  const { site, host, kind, id } = parsedTopic.value;
  const reject = (reason: RejectReason, detail: string): Ingested => ({ kind: 'reject', reason, detail, site, host });

  // Size first: a 10 MB payload is refused before it costs a JSON parse.
  if (payload.byteLength > policy.maxPayloadBytes) {
    return reject('oversized', `payload of ${payload.byteLength} bytes exceeds ${policy.maxPayloadBytes}`);
  }
  if (payload.byteLength === 0 && (kind === 'status' || kind === 'info')) return { kind: 'cleared', site, host };

  if (kind === 'ack') return reject('unknown_stream', 'the _ack topic is the server\'s own');
  const json = parseJson(payload);
  if (!json.ok) return reject(json.reason, json.detail);

  if (kind === 'status') {
    const r = validateStatus(json.value);
    return r.ok ? { kind: 'status', site, host, status: r.value } : reject(r.reason, r.detail);
  }
  if (kind === 'info') {
    const r = validateInfo(json.value);
    return r.ok ? { kind: 'info', site, host, info: r.value } : reject(r.reason, r.detail);
  }
  if (kind === 'work') {
    const r = validateWorkReport(json.value);
    if (!r.ok) return reject(r.reason, r.detail);
    if (r.value.ts > now + policy.maxFutureMs) return reject('future', `work report is dated ${Math.round((r.value.ts - now) / 1000)} s in the future`);
    return { kind: 'work', site, host, job: id!, report: r.value };
  }
  // The delivery stream is named by the topic's own segment, so the ack matches what the collector's sender is keyed on.
  const stream = kind === 'meter' ? `meter/${topic.slice(topic.lastIndexOf('/') + 1)}` : kind;
  const spec = SPOOLED[kind];
  const r = spec.validate(json.value);
  if (!r.ok) return { ...reject(r.reason, r.detail), header: readHeader(stream, json.value) } as Ingested;
  if (r.value.ts > now + policy.maxFutureMs) {
    const detail = `${spec.dated} ${Math.round((r.value.ts - now) / 1000)} s in the future (allowed skew ${policy.maxFutureMs} ms)`;
    return { ...reject('future', detail), header: readHeader(stream, json.value) } as Ingested;
  }
  if (policy.maxAgeMs !== undefined && r.value.ts < now - policy.maxAgeMs) {
    const detail = `${spec.dated} ${Math.round((now - r.value.ts) / 86_400_000)} days ago, older than the ${Math.round(policy.maxAgeMs / 86_400_000)} days the store keeps`;
    return { ...reject('too_old', detail), header: readHeader(stream, json.value) } as Ingested;
  }
  if (kind === 'gpu') return { kind, site, host, window: r.value as GpuWindow };
  if (kind === 'meter') return { kind, site, host, meter: id!, stream, window: r.value as MeterWindow };
  return { kind, site, host, event: r.value as JobEvent };
}
