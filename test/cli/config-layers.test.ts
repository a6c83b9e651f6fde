import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { layerConfig } from '../../cli/config-layers.js';
import { collectorConfig } from '../../collector/config.js';
import { serverConfig } from '../../server/config.js';
import { tempDir } from '../helpers/kilowatch-process.js';

function yamlFile(text: string): string {
  const file = join(tempDir('config'), 'kilowatch.yaml');
  writeFileSync(file, text);
  return file;
}

describe('configuration layers', () => {
  it('uses the defaults when nothing is set', () => {
    const r = layerConfig({ commands: ['server', 'collector'], argv: [], env: {} });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const s = serverConfig(r.values);
    expect(s).toMatchObject({ host: '127.0.0.1', port: 8080, mqttPort: 1883, brokerUrl: '', prefix: 'kilowatch/v1' });
    expect(Object.isFrozen(s)).toBe(true);
    expect(collectorConfig(r.values)).toMatchObject({ hosts: 8, gpus: 8, source: 'auto', windowMs: 1000 });
  });

  it('lets the file override defaults, the environment the file, and flags the environment', () => {
    const file = yamlFile('server:\n  port: 9000\n  mqtt_port: 1900\n  host: 0.0.0.0\ncollector:\n  hosts: 2\n');
    const r = layerConfig({
      commands: ['server', 'collector'],
      argv: ['--config', file, '--port', '9002'],
      env: { KILOWATCH_PORT: '9001', KILOWATCH_MQTT_PORT: '1901' },
    });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(serverConfig(r.values)).toMatchObject({ port: 9002, mqttPort: 1901, host: '0.0.0.0' });
    expect(collectorConfig(r.values).hosts).toBe(2);
  });

  it('lists every problem at once, naming where each came from', () => {
    const file = yamlFile('server:\n  port: 99999\n  colour: blue\ncollector:\n  source: gpu\n');
    const r = layerConfig({ commands: ['server', 'collector'], argv: ['--config', file, '--hosts', 'many'], env: { KILOWATCH_MQTT_PORT: '-1', KILOWATCH_BROKER: 'localhost' } });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.problems).toEqual([
      `${file}: server.port: must be at most 65535, got 99999`,
      `${file}: unknown setting "server.colour"`,
      `${file}: collector.source: must be one of auto, nvml, nvidia-smi, prometheus, sim, none, tasmota, shelly, zigbee2mqtt, mqtt-json, redfish, ipmi-dcmi, snmp-pdu, modbus, kubelet, got "gpu"`,
      'KILOWATCH_BROKER: must be a URL such as mqtt://127.0.0.1:1883, got "localhost"',
      'KILOWATCH_MQTT_PORT: must be at least 0, got -1',
      '--hosts: must be an integer, got "many"',
    ]);
  });

  it('refuses unknown flags and unreadable or invalid files', () => {
    const flag = layerConfig({ commands: ['server'], argv: ['--prot', '1'], env: {} });
    expect(flag).toMatchObject({ ok: false });
    if (!flag.ok) expect(flag.problems[0]).toContain("'--prot'");
    const missing = layerConfig({ commands: ['server'], argv: ['--config', '/nonexistent/kw.yaml'], env: {} });
    expect(missing).toMatchObject({ ok: false });
    const bad = layerConfig({ commands: ['server'], argv: ['--config', yamlFile('server: [1, 2\n')], env: {} });
    expect(bad).toMatchObject({ ok: false });
    if (!bad.ok) expect(bad.problems[0]).toContain('not valid YAML');
  });

  it('treats a missing default kilowatch.yaml as no file at all', () => {
    const r = layerConfig({ commands: ['server'], argv: [], env: {}, defaultConfigFile: '/nonexistent/kilowatch.yaml' });
    expect(r.ok).toBe(true);
  });

  it('ignores settings of the other command rather than calling them unknown', () => {
    const file = yamlFile('collector:\n  hosts: 3\nserver:\n  port: 8181\n');
    const r = layerConfig({ commands: ['server'], argv: ['--config', file], env: {} });
    expect(r.ok && serverConfig(r.values).port).toBe(8181);
  });
});
