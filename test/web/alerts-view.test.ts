import { describe, expect, it } from 'vitest';
import type { WsAlert, WsAlertEvent } from '../../protocol/ws.js';
import {
  applyAlertEvent,
  compareAlerts,
  firingSummary,
  formatAlertValue,
  formatCounts,
  formatTransition,
  globMatches,
  isWsAlert,
  isWsAlertEvent,
  messageWithoutTarget,
  shortTarget,
  sortedAlerts,
  transitionFlags,
} from '../../web/src/lib/alerts-view.js';

const GPU = 'gpu:local/sim-03/GPU-55d2dbc7-c081-4fa5-be00-c4f823df03d6';

function alert(over: Partial<WsAlert> = {}): WsAlert {
  const target = over.target ?? { label: GPU, site: 'local', host: 'sim-03', gpu: 'GPU-55d2dbc7-c081-4fa5-be00-c4f823df03d6' };
  const rule = over.rule ?? 'demo-low';
  return {
    key: `${rule}|${target.label}`,
    rule,
    severity: 'warning',
    target,
    state: 'firing',
    since: 1000,
    value: 120,
    message: `${target.label}: power 120.0 W (window max) above 50.0 W`,
    inhibited: false,
    ...over,
  };
}

function event(a: WsAlert, from: WsAlertEvent['from'], to: WsAlertEvent['to']): WsAlertEvent {
  return { key: a.key, rule: a.rule, severity: a.severity, target: a.target, from, to, value: a.value, at: a.since, message: a.message, notify: to === 'firing' };
}

describe('alert messages from the WebSocket', () => {
  it('accepts the shapes the server sends and refuses others', () => {
    const a = alert();
    expect(isWsAlert(a)).toBe(true);
    expect(isWsAlert({ ...a, state: 'resolved' })).toBe(false);
    expect(isWsAlert({ ...a, severity: 'fatal' })).toBe(false);
    expect(isWsAlert({ ...a, target: 'gpu' })).toBe(false);
    expect(isWsAlert(null)).toBe(false);
    expect(isWsAlertEvent(event(a, 'pending', 'firing'))).toBe(true);
    expect(isWsAlertEvent({ ...event(a, 'pending', 'firing'), at: 'now' })).toBe(false);
  });

  it('a transition adds, replaces or removes the alert by key; a late one changes nothing', () => {
    const map = new Map<string, WsAlert>();
    const a = alert({ state: 'pending' });
    applyAlertEvent(map, event(a, 'inactive', 'pending'), a);
    expect([...map.values()]).toEqual([a]);
    const fired = { ...a, state: 'firing' as const, since: 2000 };
    applyAlertEvent(map, event(fired, 'pending', 'firing'), fired);
    expect(map.get(a.key)).toBe(fired);
    // An acknowledgement: to equals from, with the acknowledged alert.
    const acked = { ...fired, acked: { by: 'ada', at: 3000 } };
    applyAlertEvent(map, event(acked, 'firing', 'firing'), acked);
    expect(map.get(a.key)?.acked).toEqual({ by: 'ada', at: 3000 });
    applyAlertEvent(map, event(fired, 'firing', 'late'), null);
    expect(map.size).toBe(1);
    applyAlertEvent(map, event(fired, 'firing', 'resolved'), null);
    expect(map.size).toBe(0);
  });

  it('orders firing before pending, then by severity, then newest', () => {
    const p = alert({ rule: 'p', state: 'pending', severity: 'critical', since: 9 });
    const w = alert({ rule: 'w', severity: 'warning', since: 5 });
    const c = alert({ rule: 'c', severity: 'critical', since: 1 });
    const c2 = alert({ rule: 'c2', severity: 'critical', since: 2 });
    expect(sortedAlerts([p, w, c, c2]).map((a) => a.rule)).toEqual(['c2', 'c', 'w', 'p']);
    expect(compareAlerts(c, c)).toBe(0);
  });
});

describe('firing summary for the banner', () => {
  it('counts firing alerts by severity, leaving pending and inhibited ones out', () => {
    const s = firingSummary([
      alert({ rule: 'a', severity: 'critical', since: 10 }),
      alert({ rule: 'b', severity: 'warning', since: 30, acked: { by: 'x', at: 31 } }),
      alert({ rule: 'c', severity: 'warning', since: 20 }),
      alert({ rule: 'd', state: 'pending', since: 99 }),
      alert({ rule: 'e', inhibited: true, since: 98 }),
    ]);
    expect(s.counts).toEqual({ critical: 1, warning: 2, info: 0 });
    expect(s).toMatchObject({ total: 3, acked: 1, pending: 1, inhibited: 1, worst: 'critical' });
    expect(s.newest?.rule).toBe('b');
    expect(formatCounts(s.counts)).toBe('1 critical · 2 warning');
  });

  it('is empty without firing alerts', () => {
    const s = firingSummary([]);
    expect(s).toMatchObject({ total: 0, newest: null, worst: null });
    expect(formatCounts(s.counts)).toBe('');
  });
});

describe('alert text', () => {
  it('shortens target labels for table cells', () => {
    expect(shortTarget(alert().target)).toBe('sim-03 · GPU-55d2dbc7');
    expect(shortTarget({ label: 'host:dc/node-1', site: 'dc', host: 'node-1' })).toBe('node-1');
    expect(shortTarget({ label: 'group:rack-0', group: 'rack-0' })).toBe('group rack-0');
    expect(shortTarget({ label: 'source:fuel cell', source: 'fuel cell' })).toBe('source fuel cell');
    expect(shortTarget({ label: 'fleet' })).toBe('fleet');
    // A GPU id that is not a UUID is kept whole.
    expect(shortTarget({ label: 'gpu:dc/n/0', host: 'n', gpu: '0' })).toBe('n · 0');
  });

  it('gives each value the unit of the rule that measured it', () => {
    expect(formatAlertValue(120, { type: 'threshold', metric: 'power_w' })).toBe('120 W');
    expect(formatAlertValue(1500, { type: 'threshold', metric: 'power_w' })).toMatch(/^1\.5\d* kW$/);
    expect(formatAlertValue(112.34, { type: 'threshold', metric: 'power_pct_limit' })).toBe('112 % of limit');
    expect(formatAlertValue(86, { type: 'threshold', metric: 'temp_c' })).toBe('86.0 °C');
    expect(formatAlertValue(93.1, { type: 'budget' })).toBe('93.1 % of capacity');
    expect(formatAlertValue(12.4, { type: 'no_data' })).toBe('12 s silent');
    expect(formatAlertValue(1, { type: 'seq_gap' })).toBe('1 window missing');
    expect(formatAlertValue(1.234, { type: 'drift' })).toBe('1.23× meter / GPU');
    expect(formatAlertValue(0.5)).toBe('0.500');
    expect(formatAlertValue(null)).toBe('—');
  });

  it('drops the target label the server puts before its message', () => {
    const a = alert();
    expect(messageWithoutTarget(a.message, a.target.label)).toBe('power 120.0 W (window max) above 50.0 W');
    expect(messageWithoutTarget('something else', a.target.label)).toBe('something else');
  });

  it('names transitions and their flags', () => {
    expect(formatTransition({ from: 'pending', to: 'firing' })).toBe('pending → firing');
    expect(formatTransition({ from: 'firing', to: 'firing' })).toBe('firing (acknowledged)');
    expect(transitionFlags({ to: 'late' })).toEqual(['late']);
    expect(transitionFlags({ to: 'firing', silenced: 's-1', inhibited: true })).toEqual(['silenced', 'inhibited']);
    expect(transitionFlags({ to: 'resolved' })).toEqual([]);
  });

  it('matches silence globs as the server does', () => {
    expect(globMatches('gpu:local/sim-03/*', GPU)).toBe(true);
    expect(globMatches('gpu:local/sim-0*', GPU)).toBe(true);
    expect(globMatches('gpu:local/sim-04/*', GPU)).toBe(false);
    expect(globMatches(GPU, GPU)).toBe(true);
    expect(globMatches('gpu:local/sim.03/*', GPU)).toBe(false);
  });
});
