/**
 * `kilowatch host forget`: a decommissioned host (its collector stopped, so
 * its retained status says offline) leaves the fleet, its retained status and
 * info are cleared on the embedded broker, and the audit log records it.
 */
import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { type KilowatchProcess, eventually, getJson, runKilowatch, startKilowatch, tempDir } from '../helpers/kilowatch-process.js';

const running: KilowatchProcess[] = [];
afterEach(async () => {
  for (const p of running.splice(0).reverse()) await p.stop('SIGKILL');
});

describe('kilowatch host forget', () => {
  it('clears a gone host\'s retained status and info, and removes it from the fleet', async () => {
    const dir = tempDir('forget');
    const server = await startKilowatch(['server', '--port', '0', '--mqtt-port', '0', '--data-dir', dir], /server ready at/);
    running.push(server);
    const collector = await startKilowatch(['collector', '--source', 'sim', '--hosts', '1', '--broker', server.brokerUrl!], /collector: SIMULATED/);
    await eventually(async () => ((await getJson(`${server.httpUrl}/api/v1/fleet`)).hosts.length === 1 ? true : undefined));
    const host = (await getJson(`${server.httpUrl}/api/v1/fleet`)).hosts[0].host as string;
    expect(await collector.stop('SIGINT')).toBe(0); // its Last Will / goodbye leaves status "offline", retained

    expect((await runKilowatch(['host', 'forget', 'local/no-such-host', '--data-dir', dir])).output).toContain('no host local/no-such-host is known');
    const r = await runKilowatch(['host', 'forget', `local/${host}`, '--data-dir', dir]);
    expect(r.code, r.output).toBe(0);
    expect((await getJson(`${server.httpUrl}/api/v1/fleet`)).hosts).toEqual([]);

    const sub = await mqtt.connectAsync(server.brokerUrl!);
    const retained: string[] = [];
    sub.on('message', (topic) => retained.push(topic));
    await sub.subscribeAsync(`kilowatch/v1/local/${host}/#`);
    await new Promise((res) => setTimeout(res, 1000));
    await sub.endAsync();
    expect(retained).toEqual([]); // nothing retained is left for it
    const audit = await eventually(async () => {
      const e = (await getJson(`${server.httpUrl}/api/v1/audit`)).entries.find((x: any) => x.action === 'host_forget');
      return e;
    });
    expect(audit).toMatchObject({ actor: 'admin socket', target: `local/${host}` });
  }, 60_000);
});
