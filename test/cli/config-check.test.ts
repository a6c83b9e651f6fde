/** `kilowatch config check`: every problem of the settings and of the files they name, found without starting anything. */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkConfiguration, runConfigCommand } from '../../cli/config-check.js';
import { ROOT, runKilowatch, tempDir } from '../helpers/kilowatch-process.js';

const DEMO_SITE = join(ROOT, 'docs/demo-site.yaml');
const DEMO_RULES = join(ROOT, 'docs/alert-rules.yaml');

function files(contents: Record<string, string>): Record<string, string> {
  const dir = tempDir('config-check');
  return Object.fromEntries(Object.entries(contents).map(([name, text]) => {
    writeFileSync(join(dir, name), text);
    return [name, join(dir, name)];
  }));
}

function run(argv: string[], env: Record<string, string> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const code = runConfigCommand(argv, env, { log: (l) => out.push(l), error: (l) => err.push(l) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('kilowatch config check', () => {
  it('passes a valid setup and says what it read: settings, site, rules, pollers', () => {
    const f = files({
      'kilowatch.yaml': `server:\n  port: 9090\n  site_config: ${DEMO_SITE}\n  alert_rules: ${DEMO_RULES}\ncollector:\n  source: none\n`,
      'pollers.yaml': 'pollers:\n  - { kind: redfish, id: bmc-1, url: "https://10.0.0.3", username: u, password: p }\n',
    });
    const r = run(['check', '--config', f['kilowatch.yaml']!, '--pollers', f['pollers.yaml']!]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toContain('the configuration is valid');
    expect(r.out).toContain(`settings: ${f['kilowatch.yaml']}`);
    expect(r.out).toContain('site file: ');
    expect(r.out).toContain('3 group(s), 2 power source(s)');
    expect(r.out).toMatch(/alert rules: .*\(\d+ rule\(s\), 0 webhook\(s\)\)/);
    expect(r.out).toContain('pollers file: ');
    expect(r.out).toContain('1 poller(s): bmc-1');
  });

  it('lists every problem of the settings layers and exits 2', () => {
    const f = files({ 'kilowatch.yaml': 'server:\n  port: http\n  colour: blue\n' });
    const r = run(['check', '--config', f['kilowatch.yaml']!, '--hosts', '0'], { KILOWATCH_MQTT_PORT: '70000' });
    expect(r.code).toBe(2);
    expect(r.err).toContain('the configuration has 4 problem(s)');
    expect(r.err).toContain('unknown setting "server.colour"');
    expect(r.err).toContain('server.port: must be an integer, got "http"');
    expect(r.err).toContain('KILOWATCH_MQTT_PORT: must be at most 65535, got 70000');
    expect(r.err).toContain('--hosts: must be at least 1, got 0');
  });

  it('lists problems across settings and inside every named file, each file named', () => {
    const f = files({
      'site.yaml': 'groups:\n  - { name: rack-9, parent: nowhere }\npower_sources:\n  - { name: pv, kind: solar }\n',
      'rules.yaml': 'rules:\n  - { id: r1, type: threshold, target: { kind: gpu }, metric: temp_c, above: "hot" }\nwebhooks:\n  - { url: "ftp://x", format: json }\n',
      'pollers.yaml': '- { kind: redfish, id: _bad }\n- { kind: toaster, id: t1 }\n',
      'map.json': '[{"topic": 5}]',
    });
    const r = checkConfiguration([
      '--site-config', f['site.yaml']!, '--alert-rules', f['rules.yaml']!, '--pollers', f['pollers.yaml']!,
      '--meter-map', f['map.json']!, '--time-zone', 'Mars/Olympus', '--window-ms', '1000', '--sample-ms', '300',
    ], {});
    if ('help' in r) throw new Error('no help asked for');
    const all = r.problems.join('\n');
    expect(all).toContain('server.time_zone "Mars/Olympus" is not an IANA time zone');
    expect(all).toContain('collector.window_ms (1000) must be a multiple of collector.sample_ms (300)');
    expect(all).toContain('collector.meter_map is set but collector.meters does not include mqtt-json');
    expect(all).toContain(`${f['site.yaml']}: power_sources[0].capacity_kw must be a positive number`);
    expect(all).toContain(`${f['site.yaml']}: group rack-9 has parent nowhere, which is not declared`);
    expect(all).toMatch(/alert rules: .*above/);
    expect(all).toContain('webhooks[0].url must be an http or https URL');
    expect(all).toContain('checked without the site file');
    expect(all).toContain(`${f['pollers.yaml']}: entry 1 (id "_bad")`);
    expect(all).toContain(`${f['pollers.yaml']}: entry 2 (id "t1"): kind must be one of`);
    expect(all).toContain(f['map.json']!);
    expect(r.problems.length).toBeGreaterThanOrEqual(14);
    expect(r.problems.every((p) => !p.includes('\n  - '))).toBe(true); // one problem per entry
  });

  it('names a file it cannot read', () => {
    const r = run(['check', '--site-config', '/nonexistent/site.yaml', '--alert-rules', '/nonexistent/rules.yaml', '--pollers', '/nonexistent/p.yaml']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('the configuration has 3 problem(s)');
    expect(r.err).toContain('cannot read /nonexistent/site.yaml');
    expect(r.err).toContain('cannot read the alert rules file /nonexistent/rules.yaml');
    expect(r.err).toContain('collector.pollers: cannot read /nonexistent/p.yaml');
  });

  it('starts nothing: the data dir is not created', () => {
    const dataDir = join(tempDir('config-check'), 'never');
    expect(run(['check', '--data-dir', dataDir, '--port', '1'])).toMatchObject({ code: 0 });
    expect(existsSync(dataDir)).toBe(false);
  });

  it('has --help, and needs the check subcommand', () => {
    expect(run(['check', '--help'])).toMatchObject({ code: 0, out: expect.stringContaining('usage: kilowatch config check') });
    expect(run(['--help']).code).toBe(0);
    expect(run([])).toMatchObject({ code: 2, err: expect.stringContaining('config needs a subcommand') });
    expect(run(['lint'])).toMatchObject({ code: 2, err: expect.stringContaining('not "lint"') });
  });

  it('runs as the built command with meaningful exit codes', async () => {
    const ok = await runKilowatch(['config', 'check', '--site-config', DEMO_SITE, '--alert-rules', DEMO_RULES]);
    expect([ok.code, ok.output]).toEqual([0, expect.stringContaining('the configuration is valid')]);
    const bad = await runKilowatch(['config', 'check', '--port', 'x']);
    expect([bad.code, bad.output]).toEqual([2, expect.stringContaining('--port: must be an integer')]);
    const top = await runKilowatch(['--help']);
    expect(top.output).toMatch(/config\s+check: validate/);
  });
});
