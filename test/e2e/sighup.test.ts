/**
 * SIGHUP reloads the settings file and the files it names without dropping
 * anything: a new site file takes effect at once, settings that need a new
 * start (the port) are named in the log, and a broken settings file or site
 * file is refused whole, with the running configuration kept.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type KilowatchProcess, eventually, getJson, startKilowatch, tempDir } from '../helpers/kilowatch-process.js';

let kw: KilowatchProcess | undefined;
afterEach(async () => {
  await kw?.stop('SIGKILL');
  kw = undefined;
});

const site = (groups: string[]) => `groups:\n${groups.map((g) => `  - { name: ${g}, kind: rack, hosts: [n1] }`).join('\n')}\npower_sources:\n  - { name: grid, kind: grid, capacity_kw: 10, tariff: { per_kwh: 0.2 }, carbon: { g_per_kwh: 300 }, share: 1 }\n`;

describe('SIGHUP', () => {
  it('reloads the site file at once, names settings that need a restart, and refuses a broken file whole', async () => {
    const dir = tempDir('sighup');
    const settings = join(dir, 'kilowatch.yaml');
    writeFileSync(join(dir, 'site-a.yaml'), site(['rack-a']));
    writeFileSync(join(dir, 'site-b.yaml'), site(['rack-a', 'rack-b']));
    const write = (siteFile: string, port: number) => writeFileSync(settings, `server:\n  port: ${port}\n  mqtt_port: 0\n  data_dir: ${join(dir, 'data')}\n  site_config: ${join(dir, siteFile)}\n`);
    write('site-a.yaml', 0);
    kw = await startKilowatch(['server', '--config', settings], /server ready at/);
    const groups = async () => (await getJson(`${kw!.httpUrl}/api/v1/facility`)).groups.map((g: any) => g.name);
    expect(await groups()).toEqual(['rack-a']);

    write('site-b.yaml', 18999);
    kw.child.kill('SIGHUP');
    await eventually(async () => ((await groups()).length === 2 ? true : undefined));
    expect(kw.output()).toMatch(/SIGHUP: site file .*site-b\.yaml and alert rules reloaded; changed settings that take effect at the next start: port/);

    writeFileSync(settings, 'server:\n  colour: blue\n');
    kw.child.kill('SIGHUP');
    await eventually(() => (/settings were refused whole/.test(kw!.output()) ? true : undefined));
    writeFileSync(join(dir, 'site-b.yaml'), 'power_sources: [{ name: grid, kind: coal }]\n'); // a broken site file: no such kind
    write('site-b.yaml', 18999);
    kw.child.kill('SIGHUP');
    await eventually(() => (/SIGHUP: refused whole, the running configuration stays/.test(kw!.output()) ? true : undefined));
    expect(await groups()).toEqual(['rack-a', 'rack-b']); // still the last good pair
    expect((await getJson(`${kw.httpUrl}/api/v1/health`)).status).toBe('ok');
  }, 60_000);
});
