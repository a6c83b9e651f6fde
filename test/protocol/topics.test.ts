import { describe, expect, it } from 'vitest';
import { alertTopic, decodeSegment, encodeSegment, hostTopic, parseHostTopic, siteFilters } from '../../protocol/topics.js';

const P = 'kilowatch/v1';

describe('topic segments', () => {
  it('leaves ordinary ids literal', () => {
    expect(encodeSegment('GPU-3df5befe-7d8e-4a13-af3f-aced24f068df')).toBe('GPU-3df5befe-7d8e-4a13-af3f-aced24f068df');
    expect(encodeSegment('node-01.rack3')).toBe('node-01.rack3');
  });

  it('encodes MQTT wildcards, separators and percent', () => {
    expect(encodeSegment('1234+0')).toBe('1234%2B0'); // a Slurm heterogeneous job
    expect(encodeSegment('a/b')).toBe('a%2Fb');
    expect(encodeSegment('#x')).toBe('%23x');
    expect(encodeSegment('50%')).toBe('50%25');
    expect(encodeSegment('hé')).toBe('h%C3%A9');
  });

  it('encodes a leading underscore so ids never look like reserved segments', () => {
    expect(encodeSegment('_ack')).toBe('%5Fack');
    expect(decodeSegment('%5Fack')).toBe('_ack');
  });

  it('round-trips arbitrary ids', () => {
    for (const id of ['1234+0', 'a/b/c', '#', '+', '%', '_x', 'ünï cødé', 'job 7']) {
      expect(decodeSegment(encodeSegment(id))).toBe(id);
    }
  });

  it('refuses an empty id and malformed escapes', () => {
    expect(() => encodeSegment('')).toThrow();
    expect(decodeSegment('%zz')).toBeUndefined();
    expect(decodeSegment('')).toBeUndefined();
  });
});

describe('host topics', () => {
  it('builds and parses every stream', () => {
    expect(hostTopic(P, 'dc1', 'node-1', 'gpu')).toBe('kilowatch/v1/dc1/node-1/gpu');
    expect(hostTopic(P, 'dc1', 'node-1', 'ack')).toBe('kilowatch/v1/dc1/node-1/_ack');
    expect(hostTopic(P, 'dc1', 'node-1', 'work', '1234+0')).toBe('kilowatch/v1/dc1/node-1/work/1234%2B0');
    const parsed = parseHostTopic(P, 'kilowatch/v1/dc1/node-1/work/1234%2B0');
    expect(parsed).toEqual({ ok: true, value: { site: 'dc1', host: 'node-1', kind: 'work', id: '1234+0' } });
    expect(parseHostTopic(P, 'kilowatch/v1/dc1/node-1/meter/pdu%2F3')).toMatchObject({ ok: true, value: { kind: 'meter', id: 'pdu/3' } });
    expect(parseHostTopic(P, 'kilowatch/v1/dc1/node-1/_ack')).toMatchObject({ ok: true, value: { kind: 'ack' } });
    expect(alertTopic(P, 'gpu-power/spike', 'GPU-a+b')).toBe('kilowatch/v1/_alerts/gpu-power%2Fspike/GPU-a%2Bb');
  });

  it('rejects wrong topics with a reason', () => {
    const cases: [string, string][] = [
      ['other/v1/dc1/n/gpu', 'bad_topic'],
      ['kilowatch/v1/dc1/gpu', 'bad_topic'],
      ['kilowatch/v1/dc1/n/gpu/extra', 'bad_topic'],
      ['kilowatch/v1/_alerts/n/gpu', 'bad_topic'],
      ['kilowatch/v1/dc1/_n/gpu', 'bad_topic'],
      ['kilowatch/v1/dc1/n/meter', 'bad_topic'],
      ['kilowatch/v1/dc1/n%zz/gpu', 'bad_topic'],
      ['kilowatch/v1/dc1/n/cpu', 'unknown_stream'],
    ];
    for (const [topic, reason] of cases) {
      const r = parseHostTopic(P, topic);
      expect(r.ok, topic).toBe(false);
      if (!r.ok) expect(r.reason, topic).toBe(reason);
    }
  });

  it('subscribes to explicit filters, never #', () => {
    const filters = siteFilters(P, 'dc/1');
    expect(filters).toEqual([
      'kilowatch/v1/dc%2F1/+/gpu', 'kilowatch/v1/dc%2F1/+/meter/+', 'kilowatch/v1/dc%2F1/+/job',
      'kilowatch/v1/dc%2F1/+/work/+', 'kilowatch/v1/dc%2F1/+/status', 'kilowatch/v1/dc%2F1/+/info',
    ]);
    expect(siteFilters(P, '+').every((f) => !f.includes('#'))).toBe(true);
  });
});
