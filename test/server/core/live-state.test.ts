import { describe, expect, it } from 'vitest';
import { LiveState } from '../../../server/core/live-state.js';
import { gpuWindow, info, stat, status } from '../../helpers/windows.js';

const T = 1_764_000_000_000;

describe('live state', () => {
  it('tracks hosts and GPUs and sums fresh host means', () => {
    const live = new LiveState(900);
    live.applyStatus('dc', 'a', status());
    live.applyInfo('dc', 'a', info());
    expect(live.applyWindow('dc', 'a', gpuWindow({ ts: T }), T + 1500)).toBe('live');
    expect(live.applyWindow('dc', 'b', gpuWindow({ ts: T, host_power_w: stat(100) }), T + 1500)).toBe('live');
    const s = live.summary(T + 2000);
    expect(s).toMatchObject({ power_w: 1000, hosts: 2, online_hosts: 1, gpus: 4, simulated: true, ts: T });
  });

  it('counts an older window as late and leaves live values alone', () => {
    const live = new LiveState(900);
    live.applyWindow('dc', 'a', gpuWindow({ ts: T + 1000, host_power_w: stat(700) }), T + 2000);
    expect(live.applyWindow('dc', 'a', gpuWindow({ ts: T, host_power_w: stat(100) }), T + 2100)).toBe('late');
    expect(live.summary(T + 2200).power_w).toBe(700);
    expect(live.allHosts()[0]!.late).toBe(1);
  });

  it('leaves stale and offline hosts out of power now', () => {
    const live = new LiveState(900);
    live.applyWindow('dc', 'a', gpuWindow({ ts: T }), T + 1000);
    expect(live.summary(T + 1000 + 3000 + 5001).power_w).toBe(0);
    live.applyWindow('dc', 'b', gpuWindow({ ts: T }), T + 1000);
    live.applyStatus('dc', 'b', status({ state: 'offline' }));
    expect(live.summary(T + 1500).power_w).toBe(900); // only host a
  });

  it('stays bounded in hosts and counts what it refused', () => {
    const live = new LiveState(60, 2);
    for (const h of ['a', 'b', 'c']) live.applyWindow('dc', h, gpuWindow({ ts: T }), T);
    expect(live.allHosts()).toHaveLength(2);
    expect(live.droppedHostLimit).toBe(1);
  });
});
