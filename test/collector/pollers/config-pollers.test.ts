/**
 * The collector settings of the pollers: --pollers (collector.pollers, or
 * KILOWATCH_POLLERS) names the file, --source none with --pollers is a pure
 * meter gateway, and the poller kinds as --source are for --replay only.
 */
import { describe, expect, it } from 'vitest';
import { layerConfig } from '../../../cli/config-layers.js';
import { collectorConfig, collectorProblems } from '../../../collector/config.js';

function collector(argv: string[], env: Record<string, string> = {}) {
  const r = layerConfig({ commands: ['collector'], argv, env });
  if (!r.ok) throw new Error(r.problems.join('\n'));
  const config = collectorConfig(r.values);
  return { config, problems: collectorProblems(config) };
}

describe('collector.pollers', () => {
  it('is empty by default, and set by flag or environment', () => {
    expect(collector([]).config.pollersFile).toBe('');
    expect(collector(['--pollers', '/etc/kilowatch/pollers.yaml']).config.pollersFile).toBe('/etc/kilowatch/pollers.yaml');
    expect(collector([], { KILOWATCH_POLLERS: 'p.json' }).config.pollersFile).toBe('p.json');
  });

  it('lets --source none run with pollers alone, and says what it needs without either', () => {
    expect(collector(['--source', 'none', '--pollers', 'p.yaml']).problems).toEqual([]);
    expect(collector(['--source', 'none']).problems).toEqual(['collector.source none reads no GPUs, so it needs --meters or --pollers']);
  });

  it('takes redfish and ipmi-dcmi as --source only with --replay', () => {
    expect(collector(['--source', 'redfish', '--replay', 'power.json']).problems).toEqual([]);
    expect(collector(['--source', 'ipmi-dcmi']).problems).toEqual([
      'collector.source ipmi-dcmi is for --replay; to poll a BMC live, list it in a pollers file (--pollers pollers.yaml, with --source none when the host has no GPUs)',
    ]);
  });
});
