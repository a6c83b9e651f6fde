/** What an operator meets at the command line: help, config errors and busy ports, as plain messages. */
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { runKilowatch, tempDir } from '../helpers/kilowatch-process.js';

describe('the kilowatch command', () => {
  it('has --help for every command', async () => {
    for (const cmd of ['all', 'server', 'collector']) {
      const { code, output } = await runKilowatch([cmd, '--help']);
      expect(code, cmd).toBe(0);
      expect(output).toContain(`usage: kilowatch ${cmd}`);
    }
    const all = await runKilowatch(['all', '--help']);
    expect(all.output).toContain('--mqtt-port');
    expect(all.output).toContain('KILOWATCH_PORT');
    const top = await runKilowatch([]);
    expect(top.code).toBe(2);
    expect(top.output).toContain('commands:');
  });

  it('refuses a bad configuration with every problem in one message, and starts nothing', async () => {
    const { code, output } = await runKilowatch(['server', '--port', 'http', '--data-dir', tempDir('cfg')], { KILOWATCH_MQTT_PORT: '70000' });
    expect(code).toBe(2);
    expect(output).toContain('the configuration has 2 problem(s); nothing was started');
    expect(output).toContain('KILOWATCH_MQTT_PORT: must be at most 65535, got 70000');
    expect(output).toContain('--port: must be an integer, got "http"');
    expect(output).not.toContain('server ready');
  });

  it('names a port in use instead of printing a stack trace', async () => {
    const blocker = createServer();
    await new Promise<void>((res) => blocker.listen(0, '127.0.0.1', res));
    const port = (blocker.address() as AddressInfo).port;
    try {
      const { code, output } = await runKilowatch(['server', '--port', String(port), '--mqtt-port', '0', '--data-dir', tempDir('busy')]);
      expect(code).toBe(1);
      expect(output).toContain(`port ${port} (HTTP) is already in use on 127.0.0.1`);
      expect(output).toContain('--port or KILOWATCH_PORT');
      expect(output).not.toMatch(/\n\s+at /); // no stack trace
      const mqttBusy = await runKilowatch(['server', '--port', '0', '--mqtt-port', String(port), '--data-dir', tempDir('busy')]);
      expect(mqttBusy.code).toBe(1);
      expect(mqttBusy.output).toContain(`port ${port} (embedded MQTT broker) is already in use`);
    } finally {
      blocker.close();
    }
  });

  it('needs a broker to run a collector on its own', async () => {
    const { code, output } = await runKilowatch(['collector', '--hosts', '2']);
    expect(code).toBe(2);
    expect(output).toContain('collector needs a broker');
  });
});
