import { describe, expect, it } from 'vitest';
import { ingest } from '../../../server/core/ingest.js';
import { gpuWindow, info, status, windowWithRawPower } from '../../helpers/windows.js';

const policy = { prefix: 'kilowatch/v1', maxPayloadBytes: 262_144, maxFutureMs: 5000 };
const NOW = 1_764_000_003_000;
const TOPIC = 'kilowatch/v1/dc1/node-1/gpu';
const bytes = (s: string) => new TextEncoder().encode(s);

function reasonFor(topic: string, payload: string | Uint8Array) {
  const m = ingest(topic, typeof payload === 'string' ? bytes(payload) : payload, policy, NOW);
  return m.kind === 'reject' ? m.reason : m.kind;
}

describe('ingest', () => {
  it('accepts a window, a status and an info, naming site and host', () => {
    const m = ingest(TOPIC, bytes(JSON.stringify(gpuWindow())), policy, NOW);
    expect(m).toMatchObject({ kind: 'gpu', site: 'dc1', host: 'node-1' });
    expect(reasonFor('kilowatch/v1/dc1/node-1/status', JSON.stringify(status()))).toBe('status');
    expect(reasonFor('kilowatch/v1/dc1/node-1/info', JSON.stringify(info()))).toBe('info');
  });

  // The malformed cases of the foundation issue's acceptance list, each with its counted reason.
  it.each([
    ['invalid JSON', TOPIC, '{"v":1,"seq":', 'invalid_json'],
    ['a wrong topic', 'kilowatch/v1/dc1/gpu', JSON.stringify(gpuWindow()), 'bad_topic'],
    ['a topic outside the prefix', 'elsewhere/dc1/node-1/gpu', JSON.stringify(gpuWindow()), 'bad_topic'],
    ['an unknown stream', 'kilowatch/v1/dc1/node-1/cpu', JSON.stringify(gpuWindow()), 'unknown_stream'],
    ['a missing field', TOPIC, JSON.stringify({ ...gpuWindow(), seq: undefined }), 'missing_field'],
    ['null power', TOPIC, windowWithRawPower('mean', 'null'), 'not_a_number'],
    ['"NaN" power', TOPIC, windowWithRawPower('mean', '"NaN"'), 'not_a_number'],
    ['1e999 power (Infinity)', TOPIC, windowWithRawPower('max', '1e999'), 'non_finite'],
    ['negative power', TOPIC, windowWithRawPower('min', '-3'), 'negative'],
    ['a window an hour ahead', TOPIC, JSON.stringify(gpuWindow({ ts: 1_764_003_600_000 })), 'future'],
  ])('rejects %s', (_name, topic, payload, reason) => {
    expect(reasonFor(topic, payload)).toBe(reason);
  });

  it('rejects a 10 MB payload by its size, before parsing it', () => {
    const huge = new Uint8Array(10 * 1024 * 1024).fill(0x7b); // "{{{{..." would also be invalid JSON
    const m = ingest(TOPIC, huge, policy, NOW);
    expect(m).toMatchObject({ kind: 'reject', reason: 'oversized', site: 'dc1', host: 'node-1' });
  });

  it('allows the configured clock skew, and no more', () => {
    expect(reasonFor(TOPIC, JSON.stringify(gpuWindow({ ts: NOW + 5000 })))).toBe('gpu');
    expect(reasonFor(TOPIC, JSON.stringify(gpuWindow({ ts: NOW + 6000 })))).toBe('future');
  });

  it('treats an empty retained status as cleared, but an empty window as invalid', () => {
    expect(reasonFor('kilowatch/v1/dc1/node-1/status', '')).toBe('cleared');
    expect(reasonFor(TOPIC, '')).toBe('invalid_json');
  });

  it('never throws, whatever the bytes', () => {
    let seed = 42;
    const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    const good = JSON.stringify(gpuWindow());
    for (let i = 0; i < 2000; i++) {
      const chars = [...good];
      for (let k = 0; k < 3; k++) chars[Math.floor(rand() * chars.length)] = String.fromCharCode(Math.floor(rand() * 128));
      expect(() => ingest(TOPIC, bytes(chars.join('')), policy, NOW)).not.toThrow();
    }
  });

  it('accepts a job event on the job stream, and names the header of a bad one so it can be settled', () => {
    const job = { v: 1, boot_id: 'b1', seq: 3, first_seq: 0, ts: NOW - 1000, event: 'start', job: '1234+0', user: 'ada', gpus: ['GPU-aaaa'] };
    const m = ingest('kilowatch/v1/dc1/node-1/job', bytes(JSON.stringify(job)), policy, NOW);
    expect(m).toMatchObject({ kind: 'job', event: { job: '1234+0', event: 'start', gpus: ['GPU-aaaa'] } });
    const bad = ingest('kilowatch/v1/dc1/node-1/job', bytes(JSON.stringify({ ...job, event: 'paused' })), policy, NOW);
    expect(bad).toMatchObject({ kind: 'reject', reason: 'bad_type', header: { stream: 'job', boot_id: 'b1', seq: 3, first_seq: 0 } });
    const noGpus = ingest('kilowatch/v1/dc1/node-1/job', bytes(JSON.stringify({ ...job, gpus: undefined })), policy, NOW);
    expect(noGpus).toMatchObject({ kind: 'reject', reason: 'missing_field' });
  });

  it('accepts a meter window on its own stream, named by the topic segment the collector keys its spool on', () => {
    const w = { v: 1, boot_id: 'b1', seq: 2, first_seq: 0, ts: 1_764_000_000_000, window_ms: 1000, power_w: { min: -5, max: -4, mean: -4.5, last: -4, n: 2 } };
    const m = ingest('kilowatch/v1/dc1/node-1/meter/pdu-a%2F3', bytes(JSON.stringify(w)), policy, NOW);
    expect(m).toMatchObject({ kind: 'meter', site: 'dc1', host: 'node-1', meter: 'pdu-a/3', stream: 'meter/pdu-a%2F3', window: { power_w: { mean: -4.5 } } });
    const bad = ingest('kilowatch/v1/dc1/node-1/meter/pdu-a%2F3', bytes(JSON.stringify({ ...w, pf: { min: 2, max: 2, mean: 2, last: 2, n: 1 } })), policy, NOW);
    expect(bad).toMatchObject({ kind: 'reject', reason: 'impossible_value', header: { stream: 'meter/pdu-a%2F3', boot_id: 'b1', seq: 2 } });
    const future = ingest('kilowatch/v1/dc1/node-1/meter/x', bytes(JSON.stringify({ ...w, ts: NOW + 60_000 })), policy, NOW);
    expect(future).toMatchObject({ kind: 'reject', reason: 'future', detail: expect.stringContaining('meter window starts 60 s in the future') });
  });

  it('refuses a window older than the store keeps as too_old, and settles it', () => {
    const old = { v: 1, boot_id: 'b1', seq: 9, first_seq: 0, ts: NOW - 8 * 86_400_000 - 3000, window_ms: 1000, gpus: [] };
    old.ts -= old.ts % 1000;
    const m = ingest(TOPIC, bytes(JSON.stringify(old)), { ...policy, maxAgeMs: 7 * 86_400_000 }, NOW);
    expect(m).toMatchObject({ kind: 'reject', reason: 'too_old', detail: 'window starts 8 days ago, older than the 7 days the store keeps', header: { stream: 'gpu', seq: 9 } });
    expect(ingest(TOPIC, bytes(JSON.stringify(old)), policy, NOW)).toMatchObject({ kind: 'gpu' }); // no bound configured
  });

  it('reads a work report for the job named in its topic, and refuses a malformed one', () => {
    const report = { v: 1, ts: NOW - 1000, totals: { tokens: 123456, samples: 789 } };
    expect(ingest('kilowatch/v1/dc1/node-1/work/1234%2B0', bytes(JSON.stringify(report)), policy, NOW)).toEqual({ kind: 'work', site: 'dc1', host: 'node-1', job: '1234+0', report });
    const reason = (r: object) => (ingest('kilowatch/v1/dc1/node-1/work/j', bytes(JSON.stringify(r)), policy, NOW) as { reason?: string }).reason;
    expect(reason({ ...report, totals: {} })).toBe('missing_field');
    expect(reason({ ...report, totals: { tokens: -1 } })).toBe('negative');
    expect(reason({ ...report, totals: { tokens: 'many' } })).toBe('not_a_number');
    expect(reason({ ...report, ts: NOW + 60_000 })).toBe('future');
  });
});
