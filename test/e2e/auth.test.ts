/**
 * Authentication, roles and project scope over the real HTTP and WebSocket
 * endpoints of the built `kilowatch` command: tokens made with `kilowatch
 * token create` through the admin socket, a scoped viewer that cannot see
 * another project's job (404, as if it never ran), a viewer that cannot
 * acknowledge (403), browser sessions by HttpOnly cookie, a WebSocket that
 * is refused without credentials or from a foreign origin, and a refusal to
 * start on a public address without authentication.
 */
import { afterEach, describe, expect, it } from 'vitest';
import mqtt from 'mqtt';
import WebSocket from 'ws';
import { gpuWindow } from '../helpers/windows.js';
import { type KilowatchProcess, eventually, runKilowatch, startKilowatch, tempDir } from '../helpers/kilowatch-process.js';

let kw: KilowatchProcess | undefined;
afterEach(async () => {
  await kw?.stop('SIGKILL');
  kw = undefined;
});

async function call(method: string, url: string, token?: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(url, {
    method, headers: { 'content-type': 'application/json', ...(token && { authorization: `Bearer ${token}` }), ...headers },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as any, cookie: res.headers.get('set-cookie') };
}

async function token(dir: string, ...args: string[]): Promise<string> {
  const r = await runKilowatch(['token', 'create', '--data-dir', dir, ...args]);
  expect(r.code, r.output).toBe(0);
  return r.output.trim().split('\n').at(-1)!;
}

/** Opens a WebSocket; resolves 'open' or the HTTP status it was refused with. */
function openWs(url: string, headers: Record<string, string>): Promise<'open' | number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { headers });
    ws.once('open', () => (ws.terminate(), resolve('open')));
    ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.once('error', () => resolve(0));
  });
}

describe('security', () => {
  it('refuses to start on a public address without authentication, with a clear message', async () => {
    const r = await runKilowatch(['server', '--host', '0.0.0.0', '--port', '0', '--mqtt-port', '0', '--data-dir', tempDir('auth-open')]);
    expect(r.code).toBe(2);
    expect(r.output).toContain('server.host 0.0.0.0 is not a loopback address, and no authentication is configured');
    expect(r.output).toContain('--auth tokens');
  });

  it('enforces roles and project scope over HTTP and the WebSocket', async () => {
    const dir = tempDir('auth');
    kw = await startKilowatch(['all', '--source', 'sim', '--hosts', '2', '--port', '0', '--mqtt-port', '0', '--data-dir', dir, '--auth', 'tokens'], /kilowatch: open http/);
    const api = kw.httpUrl!;
    const admin = await token(dir, '--role', 'admin', '--name', 'ada');
    const operator = await token(dir, '--role', 'operator', '--name', 'otto');
    expect(admin).toMatch(/^kw_[a-z0-9]{12}_[A-Za-z0-9_-]{43}$/);

    expect(await call('GET', `${api}/api/v1/fleet`)).toMatchObject({ status: 401 });
    expect((await call('GET', `${api}/api/v1/fleet`, 'kw_nope')).status).toBe(401);
    expect((await call('GET', `${api}/api/v1/fleet`, admin)).status).toBe(200);
    expect((await fetch(`${api}/metrics/fleet`)).status).toBe(401); // Prometheus scrapes with a bearer token
    expect((await fetch(`${api}/metrics/fleet`, { headers: { authorization: `Bearer ${admin}` } })).status).toBe(200);
    expect((await fetch(`${api}/healthz`)).status).toBe(200); // probes need none

    // Wait for simulated jobs of at least two projects, then scope a viewer to one of them.
    const jobs = await eventually(async () => {
      const r = await call('GET', `${api}/api/v1/jobs`, admin);
      return new Set(r.body.jobs.map((j: any) => j.project)).size >= 2 ? r.body.jobs : undefined;
    }, 20_000);
    const mine = jobs[0].project as string;
    const other = jobs.find((j: any) => j.project !== mine);
    const viewer = await token(dir, '--role', 'viewer', '--name', 'vic', '--projects', mine);
    const seen = await call('GET', `${api}/api/v1/jobs`, viewer);
    expect(seen.status).toBe(200);
    expect(seen.body.jobs.length).toBeGreaterThan(0);
    expect(seen.body.jobs.every((j: any) => j.project === mine)).toBe(true);
    expect(await call('GET', `${api}/api/v1/jobs/${encodeURIComponent(other.job)}`, viewer)).toMatchObject({ status: 404, body: { error: `no job "${other.job}"` } });
    expect((await call('GET', `${api}/api/v1/jobs/${encodeURIComponent(jobs[0].job)}`, viewer)).status).toBe(200);
    expect((await call('GET', `${api}/api/v1/series?target=job&job=${encodeURIComponent(other.job)}&metric=power_w&agg=mean&step=1m`, viewer)).status).toBe(404);
    // Efficiency rows come from the ledger: wait until the scoped project's energy is stored.
    const eff = await eventually(async () => {
      const r = await call('GET', `${api}/api/v1/efficiency?by=project`, viewer);
      return r.body.rows.length > 0 ? r : undefined;
    });
    expect(eff.body.rows.map((r: any) => r.key)).toEqual([mine]);

    // Roles: a viewer cannot acknowledge, an operator cannot edit rules, an admin can.
    expect(await call('POST', `${api}/api/v1/alerts/ack`, viewer, { key: 'x|host:local/sim-00' })).toMatchObject({ status: 403, body: { error: expect.stringMatching(/needs the operator role; vic is a viewer/) } });
    expect((await call('POST', `${api}/api/v1/alerts/ack`, operator, { key: 'x|host:local/sim-00' })).status).toBe(404);
    const rule = { id: 'hot', type: 'threshold', target: { kind: 'gpu' }, metric: 'temp_c', above: 150 };
    expect((await call('POST', `${api}/api/v1/rules`, operator, rule)).status).toBe(403);
    expect((await call('POST', `${api}/api/v1/rules`, admin, rule)).status).toBe(201);

    // A browser: a token for an HttpOnly session cookie, which the WebSocket checks with the Origin.
    expect((await call('POST', `${api}/api/v1/login`, undefined, { token: 'kw_wrong' })).status).toBe(401);
    const login = await call('POST', `${api}/api/v1/login`, undefined, { token: viewer });
    expect(login).toMatchObject({ status: 200, body: { name: 'vic', role: 'viewer', projects: [mine] } });
    expect(login.cookie).toMatch(/^kw_session=[A-Za-z0-9_-]+; HttpOnly; SameSite=Strict; Path=\//);
    const cookie = login.cookie!.split(';')[0]!;
    expect(await call('GET', `${api}/api/v1/whoami`, undefined, undefined, { cookie })).toMatchObject({ status: 200, body: { name: 'vic', via: 'session' } });
    const wsUrl = `${api.replace('http', 'ws')}/api/v1/live`;
    const origin = api;
    expect(await openWs(wsUrl, {})).toBe(401);
    expect(await openWs(wsUrl, { cookie, origin: 'https://evil.example' })).toBe(403);
    expect(await openWs(wsUrl, { cookie, origin })).toBe('open');

    // Revoking a token ends it and its sessions.
    const revoked = await runKilowatch(['token', 'revoke', '--data-dir', dir, '--id', 'vic']);
    expect(revoked.code, revoked.output).toBe(0);
    expect((await call('GET', `${api}/api/v1/jobs`, viewer)).status).toBe(401);
    expect((await call('GET', `${api}/api/v1/whoami`, undefined, undefined, { cookie })).status).toBe(401);
    await new Promise((r) => setTimeout(r, 1200)); // the log is written with the next store batch
    const audit = (await call('GET', `${api}/api/v1/audit`, admin)).body.entries;
    expect(audit.find((e: any) => e.action === 'rule_put')).toMatchObject({ actor: 'ada', target: 'hot' });
    expect(audit.filter((e: any) => e.action === 'token_create').map((e: any) => e.detail.name)).toEqual(['vic', 'otto', 'ada']); // newest first
    expect(audit.find((e: any) => e.action === 'token_revoke')).toMatchObject({ actor: 'admin socket', detail: { name: 'vic' } });
    expect(JSON.stringify(audit)).not.toContain(viewer.slice(16)); // never a secret
    expect((await call('GET', `${api}/api/v1/audit`, operator)).status).toBe(403);
    const list = await runKilowatch(['token', 'list', '--data-dir', dir]);
    expect(list.output).toMatch(/vic\s+viewer.*revoked/);
    expect(list.output).not.toContain(admin.slice(16)); // secrets are never shown again
  }, 90_000);

  it('gives each collector a credential of its own on the embedded broker: publishing as another host is refused and counted', async () => {
    const dir = tempDir('auth-mqtt');
    kw = await startKilowatch(['server', '--port', '0', '--mqtt-port', '0', '--data-dir', dir, '--auth', 'tokens'], /server ready at/);
    const admin = await token(dir, '--role', 'admin', '--name', 'ada');
    const nodeA = await token(dir, '--mqtt', 'collector', '--name', 'node-a', '--site', 'local', '--host', 'node-a');
    const health = async () => (await call('GET', `${kw!.httpUrl}/api/v1/health`, admin)).body;
    expect(kw.output()).not.toMatch(/kilowatch-server:[^*@\s]+@/); // the internal credential never reaches a log

    await expect(mqtt.connectAsync(kw.brokerUrl!, { reconnectPeriod: 0 })).rejects.toThrow(/Bad username or password|Not authorized/i);
    await expect(mqtt.connectAsync(kw.brokerUrl!, { username: 'node-a', password: admin, reconnectPeriod: 0 })).rejects.toThrow(); // an API token is not an MQTT credential
    expect((await health()).mqtt.broker.auth_failed).toBe(2);

    const a = await mqtt.connectAsync(kw.brokerUrl!, { username: 'node-a', password: nodeA, reconnectPeriod: 0 });
    const ts = Math.floor(Date.now() / 1000) * 1000 - 1000;
    await a.publishAsync('kilowatch/v1/local/node-a/gpu', JSON.stringify(gpuWindow({ ts, seq: 0 })), { qos: 1 });
    await eventually(async () => ((await call('GET', `${kw!.httpUrl}/api/v1/fleet`, admin)).body.hosts.some((h: any) => h.host === 'node-a') ? true : undefined));
    const closed = new Promise<void>((r) => a.once('close', () => r()));
    a.publish('kilowatch/v1/local/node-b/gpu', JSON.stringify(gpuWindow({ ts, seq: 0 })), { qos: 1 });
    await closed; // MQTT 3.1.1 has no refusal for a publish: the broker closes the connection
    await a.endAsync(true);
    const h = await health();
    expect(h.mqtt.broker.publish_refused).toBe(1);
    expect((await call('GET', `${kw.httpUrl}/api/v1/fleet`, admin)).body.hosts.map((x: any) => x.host)).toEqual(['node-a']);

    const b = await mqtt.connectAsync(kw.brokerUrl!, { username: 'node-a', password: nodeA, reconnectPeriod: 0 });
    const closedB = new Promise<void>((r) => b.once('close', () => r()));
    b.subscribe('kilowatch/v1/#');
    await closedB;
    await b.endAsync(true);
    expect((await health()).mqtt.broker.subscribe_refused).toBe(1);
  }, 60_000);
});
