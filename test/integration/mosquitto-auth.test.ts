/**
 * A site broker with users: Mosquitto from Debian with allow_anonymous false
 * and a password file made by mosquitto_passwd. The server and a collector
 * log in with --mqtt-username and --mqtt-password-file; a wrong password is
 * refused by the broker and the server says it is not connected.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type KilowatchProcess, eventually, getJson, startKilowatch, tempDir } from '../helpers/kilowatch-process.js';
import { type Mosquitto, startMosquitto } from '../helpers/mosquitto.js';

const PASSWD = '/usr/bin/mosquitto_passwd';
const running: (KilowatchProcess | Mosquitto)[] = [];
afterEach(async () => {
  for (const p of running.splice(0).reverse()) await ('child' in p ? p.stop('SIGKILL') : p.stop());
});

describe('an external broker with credentials', () => {
  it('takes windows from a collector that logs in, and refuses a wrong password', async () => {
    if (!existsSync(PASSWD)) throw new Error(`${PASSWD} is missing: apt-get install mosquitto (.ci/run does)`);
    const dir = tempDir('mqtt-auth');
    chmodSync(dir, 0o755); // Mosquitto started as root reads its files as the mosquitto user
    const users = join(dir, 'users');
    execFileSync(PASSWD, ['-b', '-c', users, 'kw-node', 's3cret-node']);
    execFileSync(PASSWD, ['-b', users, 'kw-server', 's3cret-server']);
    const broker = await startMosquitto({ passwordFile: users });
    running.push(broker);
    writeFileSync(join(dir, 'server.pw'), 's3cret-server\n');
    writeFileSync(join(dir, 'node.pw'), 's3cret-node\n');
    writeFileSync(join(dir, 'wrong.pw'), 'nope\n');

    const server = await startKilowatch(['server', '--broker', broker.url, '--mqtt-username', 'kw-server', '--mqtt-password-file', join(dir, 'server.pw'), '--port', '0', '--data-dir', join(dir, 'data')], /server ready at/);
    running.push(server);
    const collector = await startKilowatch(['collector', '--source', 'sim', '--hosts', '1', '--broker', broker.url, '--mqtt-username', 'kw-node', '--mqtt-password-file', join(dir, 'node.pw')], /collector: SIMULATED/);
    running.push(collector);
    await eventually(async () => ((await getJson(`${server.httpUrl}/api/v1/fleet`)).hosts.length === 1 ? true : undefined), 20_000);
    expect((await getJson(`${server.httpUrl}/api/v1/health`)).mqtt.connected).toBe(true);
    expect(collector.output()).not.toContain('s3cret');

    const refused = await startKilowatch(['server', '--broker', broker.url, '--mqtt-username', 'kw-server', '--mqtt-password-file', join(dir, 'wrong.pw'), '--port', '0', '--data-dir', join(dir, 'data2')], /server ready at/, 30_000);
    running.push(refused);
    const health = await getJson(`${refused.httpUrl}/api/v1/health`);
    expect(health.mqtt.connected).toBe(false);
    expect(health.status).toBe('degraded');
  }, 90_000);
});
