/**
 * Alert rules as an operator runs them, through the built `kilowatch`
 * command: a bad rules file stops the start and names the field; the API
 * refuses bad rules with a 400 naming the field and keeps file rules
 * read-only; SIGHUP with a bad file keeps the running rules, with a good
 * one replaces them; and after a SIGKILL the firing alert, its
 * acknowledgement, the silence and the API rule are all still there,
 * without the alert firing a second time.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type KilowatchProcess, eventually, getJson, runKilowatch, startKilowatch, tempDir } from '../helpers/kilowatch-process.js';

let kw: KilowatchProcess | undefined;
afterEach(async () => {
  await kw?.stop('SIGKILL');
  kw = undefined;
});

const args = (dataDir: string, rules: string) => ['all', '--source', 'sim', '--hosts', '2', '--port', '0', '--mqtt-port', '0', '--data-dir', dataDir, '--alert-rules', rules];

async function send(method: string, url: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(url, { method, headers: { 'content-type': 'application/json' }, ...(body !== undefined && { body: JSON.stringify(body) }) });
  return { status: res.status, body: await res.json() };
}

const ON = `rules:\n  - { id: sim-00-on, type: threshold, target: { kind: host, host: sim-00 }, metric: power_w, above: 1, severity: warning }\n`;

describe('alert rules, operated', () => {
  it('a bad rules file stops the start and names the field', async () => {
    const dir = tempDir('alerts-bad');
    const rules = join(dir, 'rules.yaml');
    writeFileSync(rules, 'rules:\n  - { id: x, type: threshold, target: { kind: gpu }, metric: watts, above: 1, for_s: -1 }\n');
    const r = await runKilowatch(args(dir, rules));
    expect(r.code).not.toBe(0);
    expect(r.output).toContain('rules[0].metric must be one of power_w, power_pct_limit, temp_c, not "watts"');
    expect(r.output).toContain('rules[0].for_s must be a number >= 0, not -1');
  });

  it('keeps rules, acknowledgements and silences through the API, SIGHUP and a SIGKILL', async () => {
    const dir = tempDir('alerts-admin');
    const rules = join(dir, 'rules.yaml');
    writeFileSync(rules, ON);
    kw = await startKilowatch(args(dir, rules), /kilowatch: open http/);
    const api = kw.httpUrl!;
    const firing = await eventually(async () => (await getJson(`${api}/api/v1/alerts`)).active.find((a: any) => a.rule === 'sim-00-on' && a.state === 'firing'));
    expect(firing.target.label).toBe('host:local/sim-00');

    expect(await send('POST', `${api}/api/v1/alerts/ack`, { key: firing.key, by: 'ada' })).toMatchObject({ status: 200 });
    expect(await send('POST', `${api}/api/v1/alerts/ack`, { key: 'nope|host:x' })).toMatchObject({ status: 404 });
    const silence = await send('POST', `${api}/api/v1/silences`, { target: 'gpu:local/sim-01/*', duration_s: 3600, reason: 'burn-in', by: 'ada' });
    expect(silence.status).toBe(201);
    expect(await send('POST', `${api}/api/v1/silences`, { duration_s: 60 })).toMatchObject({ status: 400, body: { problems: expect.arrayContaining(['reason is required']) } });

    const bad = await send('POST', `${api}/api/v1/rules`, { id: 'r1', type: 'budget', target: { kind: 'group', group: 'nowhere' }, capacity_kw: 5, above_pct: 90 });
    expect(bad.status).toBe(400);
    expect(bad.body.problems[0]).toMatch(/^rule\.target\.group must name a group of the site file/);
    const made = await send('POST', `${api}/api/v1/rules`, { id: 'hot', type: 'threshold', target: { kind: 'gpu' }, metric: 'temp_c', above: 200 });
    expect(made).toMatchObject({ status: 201, body: { id: 'hot', origin: 'api' } });
    // An energy budget reads the ledger (once a minute, and when the rule is made): once the simulated
    // jobs have energy stored, their projects pass a tiny daily budget at once.
    await eventually(async () => ((await getJson(`${api}/api/v1/jobs`)).jobs.some((j: any) => j.energy_j > 0 && j.project) ? true : undefined));
    expect(await send('POST', `${api}/api/v1/rules`, { id: 'tiny', type: 'energy_budget', scope: 'project', period: 'day', kwh: 0.000001 })).toMatchObject({ status: 201 });
    const budget = await eventually(async () => (await getJson(`${api}/api/v1/alerts`)).active.find((a: any) => a.rule === 'tiny' && a.state === 'firing'));
    expect(budget.target.label).toMatch(/^project:/);
    expect(budget.message).toMatch(/of its daily budget of 0\.000001 kWh .*has exceeded/);
    expect(await send('DELETE', `${api}/api/v1/rules/tiny`, undefined)).toMatchObject({ status: 200 });
    expect(await send('PUT', `${api}/api/v1/rules/sim-00-on`, { type: 'offline', target: { kind: 'host' } })).toMatchObject({ status: 409 });
    expect(await send('DELETE', `${api}/api/v1/rules/sim-00-on`, undefined)).toMatchObject({ status: 403 });

    // SIGHUP with a broken file: refused whole, the running rules stay.
    writeFileSync(rules, `${ON}  - { id: broken, type: rate, target: { kind: gpu } }\n`);
    kw.child.kill('SIGHUP');
    await eventually(() => (/refused whole/.test(kw!.output()) ? true : undefined));
    expect(kw.output()).toContain('rules[1].rise_w must be a number > 0');
    expect((await getJson(`${api}/api/v1/rules`)).rules.map((r: any) => r.id)).toEqual(['sim-00-on', 'hot']);
    // A good file: its rules replace the file's; the API's stay.
    writeFileSync(rules, `${ON}  - { id: quiet, type: no_data, target: { kind: gpu }, after_s: 30 }\n`);
    kw.child.kill('SIGHUP');
    await eventually(async () => ((await getJson(`${api}/api/v1/rules`)).rules.some((r: any) => r.id === 'quiet') ? true : undefined));
    expect(kw.output()).toMatch(/alert rules reloaded: 2 from the file, 1 from the API/);
    // The audit log: who changed what, the reload as its diff with the actor "config file".
    const audit = await eventually(async () => {
      const entries = (await getJson(`${api}/api/v1/audit`)).entries;
      return entries.some((e: any) => e.action === 'config_reload') ? entries : undefined; // written with the next store batch
    });
    expect(audit.find((e: any) => e.action === 'config_reload')).toMatchObject({ actor: 'config file', detail: { added: ['quiet'], removed: [], changed: [] } });
    expect(audit.find((e: any) => e.action === 'ack')).toMatchObject({ actor: 'ada', target: firing.key });
    expect(audit.find((e: any) => e.action === 'rule_put' && e.target === 'hot')).toMatchObject({ actor: 'local' });

    // SIGKILL, then the same data dir: everything comes back, and the alert does not fire again.
    await new Promise((r) => setTimeout(r, 1500)); // the log is flushed at least once a second
    await kw.stop('SIGKILL');
    kw = await startKilowatch(args(dir, rules), /kilowatch: open http/);
    const after = await getJson(`${kw.httpUrl}/api/v1/alerts?history=1000`);
    const again = after.active.find((a: any) => a.key === firing.key);
    expect(again).toMatchObject({ state: 'firing', acked: { by: 'ada' } });
    expect(after.silences.map((s: any) => s.id)).toEqual([silence.body.id]);
    expect(after.rules.map((r: any) => r.id)).toEqual(['sim-00-on', 'quiet', 'hot']);
    await new Promise((r) => setTimeout(r, 3000)); // windows keep coming: the restored alert stays firing, quietly
    const history = (await getJson(`${kw.httpUrl}/api/v1/alerts?history=1000`)).history.filter((e: any) => e.key === firing.key);
    expect(history.map((e: any) => e.to)).toEqual(['firing', 'pending']); // newest first: one firing, ever
  }, 90_000);
});
