/** Server settings that only make sense together are checked once, with every problem listed. */
import { describe, expect, it } from 'vitest';
import { layerConfig } from '../../cli/config-layers.js';
import { serverConfig, serverProblems } from '../../server/config.js';

const config = (argv: string[]) => {
  const r = layerConfig({ commands: ['server'], argv, env: {}, defaultConfigFile: 'absent-kilowatch.yaml' });
  if (!r.ok) throw new Error(r.problems.join('; '));
  return serverConfig(r.values);
};

describe('server configuration', () => {
  it('accepts the defaults', () => {
    expect(config([]).timeZone).toBe('UTC');
    expect(serverProblems(config([]))).toEqual([]);
  });

  it('names an unknown time zone and retention that would drop rollups before raw windows', () => {
    expect(serverProblems(config(['--time-zone', 'Mars/Olympus', '--raw-retention-days', '30', '--rollup-retention-days', '10']))).toEqual([
      'server.time_zone "Mars/Olympus" is not an IANA time zone (e.g. UTC, Europe/Berlin, America/Chicago)',
      'server.rollup_retention_days (10) must be at least server.raw_retention_days (30)',
    ]);
  });
});
