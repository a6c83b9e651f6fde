/**
 * --replay over the captured fixtures: every reading fixture becomes protocol
 * messages the server's validators accept (replay() checks them itself), and
 * the values come out as the files state them. Reference files (the counters
 * CSV, --help-query-gpu, compute-apps lists) are not readings and are left out.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type ReplayInput, replay } from '../../collector/replay.js';
import { SHARED_FIXTURES } from '../helpers/fixture-suite.js';
import { runKilowatch } from '../helpers/kilowatch-process.js';

const base = { prefix: 'kilowatch/v1', site: 's', host: 'h', now: 1_764_000_000_500, windowMs: 1000 };
const run = (kind: string, text: string, topic?: string) => replay({ ...base, kind, text, topic } as ReplayInput);
const read = (...p: string[]) => readFileSync(join(SHARED_FIXTURES, ...p), 'utf8');
const payloads = (r: ReturnType<typeof replay>) => (r.ok ? r.messages.map((m) => m.payload as any) : []);

describe('--replay of GPU sources', () => {
  const smi = readdirSync(join(SHARED_FIXTURES, 'nvidia-smi')).filter((f) => f.endsWith('.csv') && !f.includes('compute-apps'));
  it.each(smi)('nvidia-smi %s', (file) => {
    const r = run('nvidia-smi', read('nvidia-smi', file));
    expect(r.ok ? 'ok' : r.error).toBe('ok');
    const [info, window] = payloads(r);
    expect(info.gpus.length).toBeGreaterThan(0);
    expect(window.gpus.every((g: any) => g.id.startsWith('GPU-'))).toBe(true);
  });

  it('reads the H100 load capture as 625.68 W at 100 % utilization against a 700 W limit', () => {
    const [, window] = payloads(run('nvidia-smi', read('nvidia-smi', 'capture__linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01__load__query-gpu-all-fields.csv')));
    expect(window.gpus[0]).toMatchObject({ power_w: { mean: 625.68, n: 1 }, util_pct: { mean: 100 }, power_limit_w: 700 });
  });

  const prom = readdirSync(join(SHARED_FIXTURES, 'dcgm-exporter')).filter((f) => !f.endsWith('.csv'));
  it.each(prom)('prometheus %s', (file) => {
    const r = run('prometheus', read('dcgm-exporter', file));
    expect(r.ok ? 'ok' : r.error).toBe('ok');
  });

  it('reads the L4 scrape with its energy counter', () => {
    const [, window] = payloads(run('prometheus', read('dcgm-exporter', 'k8s-ai-conformance__kops__nvidia-l4__metrics-with-help-type.prom')));
    expect(window.gpus[0].energy_mj).toBe(4742776);
  });

  it('says why an input without a header or readings cannot be replayed', () => {
    const r = run('nvidia-smi', 'NVIDIA H100, 600 W\n');
    expect(r).toMatchObject({ ok: false });
    expect(run('prometheus', '# nothing here\n')).toMatchObject({ ok: false, error: 'no GPU reading could be read from the prometheus input' });
  });
});

describe('--replay of power meters', () => {
  it('Tasmota tele/pow1/SENSOR (console format in the fixture)', () => {
    const line = read('meters', 'tasmota', 'tasmota-docs__Sonoff-Pow-R2__tele-pow1-SENSOR__console-format.txt').split('\n').find((l) => l.includes(' = '))!;
    const [topic, payload] = [line.slice(0, line.indexOf(' = ')), line.slice(line.indexOf(' = ') + 3)];
    const r = run('tasmota', payload, topic);
    expect(r.ok && r.messages[0]!.topic).toBe('kilowatch/v1/s/h/meter/pow1');
    expect(payloads(r)[0]).toMatchObject({ power_w: { mean: 2635 }, energy_import_wh: 6294 });
  });

  it('Shelly Pro 3EM em:0 and emdata:0 status objects from the device dump', () => {
    const status = JSON.parse(read('meters', 'shelly', 'aioshelly-fixture__gen2_Shelly_Pro_3EM_SPEM-003CEBEU_20231219-134001-1.1.0-g34b5d4f.json')).status;
    expect(payloads(run('shelly', JSON.stringify(status['em:0']), 'shellypro3em/status/em:0'))[0].power_w.mean).toBe(558.965);
    expect(payloads(run('shelly', JSON.stringify(status['emdata:0']), 'shellypro3em/status/emdata:0'))[0]).toMatchObject({ energy_import_wh: 2589773.39, energy_export_wh: 1026.61 });
  });

  it('every line of the captured Shelly MQTT traffic either replays or says why not', () => {
    const lines = read('meters', 'shelly', 'go-mqtt-to-influx__captured-mqtt-traffic__gen1-shelly1__gen2-plus1pm__gen1-shellyem3.txt')
      .split('\n').filter((l) => l.includes(' ') && /^shell/.test(l) && l.indexOf(' ') > 0 && !/^shelly \w+$/.test(l) && l !== 'shelly 1');
    let windows = 0;
    for (const l of lines) {
      const r = run('shelly', l.slice(l.indexOf(' ') + 1), l.slice(0, l.indexOf(' ')));
      if (r.ok) windows += r.messages.length;
      else expect(r.error).toMatch(/carries no meter reading|unmetered/);
    }
    expect(windows).toBeGreaterThan(10);
  });

  it('Zigbee2MQTT bridge/devices becomes the info of the discovered meters', () => {
    const [info] = payloads(run('zigbee2mqtt', read('meters', 'zigbee2mqtt', 'barbaris-smart-home__zigbee2mqtt-bridge-devices__z2m-1.33.2__incl-xiaomi-plug-exposes.json'), 'zigbee2mqtt/bridge/devices'));
    expect(info.meters).toHaveLength(1);
    expect(info.meters[0]).toMatchObject({ id: '0x00158d0001db18f9' });
  });

  it('needs the topic of a meter payload', () => {
    expect(run('shelly', '{}')).toMatchObject({ ok: false, error: 'shelly: --topic is needed: the MQTT topic the payload was published on' });
  });
});

describe('kilowatch collector --replay', () => {
  it('prints one JSON message per line and exits 0, with no broker', async () => {
    const file = join(SHARED_FIXTURES, 'nvidia-smi', 'netdata__tesla-p100_header-units_values-nounits.csv');
    const { code, output } = await runKilowatch(['collector', '--source', 'nvidia-smi', '--replay', file, '--host-id', 'p100']);
    expect(code).toBe(0);
    const lines = output.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => l.topic)).toEqual(['kilowatch/v1/local/p100/info', 'kilowatch/v1/local/p100/gpu']);
    expect(lines[1].payload.gpus[0].power_w.mean).toBe(28.16);
  });

  it('exits non-zero with a clear reason on input it cannot read', async () => {
    const missing = await runKilowatch(['collector', '--source', 'prometheus', '--replay', '/nonexistent/scrape.prom']);
    expect(missing.code).toBe(1);
    expect(missing.output).toContain('cannot read /nonexistent/scrape.prom');
    const bad = await runKilowatch(['collector', '--source', 'tasmota', '--replay', '/dev/null', '--topic', 'tele/x/SENSOR']);
    expect(bad.code).toBe(1);
    expect(bad.output).toContain('tasmota: invalid_json');
  });
});
