/**
 * A Redfish service for tests: a real HTTP(S) server on a free loopback port
 * that serves the DMTF mockup documents of ../shared/fixtures/redfish (the
 * public-rackmount1 chassis "1U"), with the links between them that the
 * mockup has (Chassis collection -> Chassis/1U -> Sensors, EnvironmentMetrics,
 * Power). The link documents are written here, trimmed to what a poller
 * follows; the readings come from the fixtures, with the power replaced by
 * `power` so a test can change it between polls.
 *
 * Misbehaviours a BMC really has are switches: `delayMs` (a BMC that takes
 * 30 s to answer), `status` (every answer an error, e.g. 500), basic or
 * session auth, and HTTPS with a self-signed certificate.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { SHARED_FIXTURES } from '../../helpers/fixture-suite.js';
import { tempDir } from '../../helpers/kilowatch-process.js';

const fixture = (name: string) => JSON.parse(readFileSync(join(SHARED_FIXTURES, 'redfish', `dmtf-mockup__public-rackmount1__Chassis-1U-${name}.json`), 'utf8'));
export const FIXTURES = {
  totalPower: fixture('Sensors-TotalPower'),
  totalEnergy: fixture('Sensors-TotalEnergy'),
  environment: fixture('EnvironmentMetrics'),
  legacy: fixture('Power-legacy'),
};

const C = '/redfish/v1/Chassis/1U';
const ref = (id: string) => ({ '@odata.id': id });

export interface FakeBmcOptions {
  /** sensors: the chassis links Sensors, EnvironmentMetrics and Power; legacy: only Power. */
  model: 'sensors' | 'legacy';
  tls?: boolean;
  auth?: { kind: 'basic' | 'session'; username: string; password: string };
  /** Every answer waits this long. */
  delayMs?: number;
  /** Every answer has this status instead of the document. */
  status?: number;
}

export interface FakeBmc {
  url: string;
  /** Method and path of every request, in order. */
  requests: string[];
  /** The node's power in every power document from now on. */
  setPower(watts: number | null): void;
  /** Ends every session, as a BMC does when its SessionTimeout passes. */
  expireSessions(): void;
  close(): Promise<void>;
}

/** A self-signed certificate for 127.0.0.1, made with openssl (Debian's, present on these machines). */
export function selfSignedCert(): { key: string; cert: string } {
  const dir = tempDir('bmc-tls');
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
      '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'pipe' });
  } catch (err) {
    throw new Error(`the HTTPS BMC test needs openssl to make a self-signed certificate: ${(err as Error).message}`);
  }
  return { key: readFileSync(join(dir, 'key.pem'), 'utf8'), cert: readFileSync(join(dir, 'cert.pem'), 'utf8') };
}

/** `power` undefined: each document's own value (374 W in the sensors, 344 W in the legacy PowerControl). */
function documents(model: FakeBmcOptions['model'], power: number | null | undefined): Record<string, unknown> {
  const withPower = <T extends object>(doc: T, edit: (d: any) => void): T => {
    if (power === undefined) return doc;
    const copy = structuredClone(doc);
    edit(copy);
    return copy;
  };
  const sensor = (id: string, type: string, reading: number) => ({ '@odata.type': '#Sensor.v1_6_0.Sensor', '@odata.id': `${C}/Sensors/${id}`, Id: id, Name: id, ReadingType: type, Reading: reading });
  return {
    '/redfish/v1/Chassis': { '@odata.type': '#ChassisCollection.ChassisCollection', Members: [ref(C)], 'Members@odata.count': 1 },
    [C]: model === 'sensors'
      ? { '@odata.type': '#Chassis.v1_21_0.Chassis', '@odata.id': C, Id: '1U', Sensors: ref(`${C}/Sensors`), EnvironmentMetrics: ref(`${C}/EnvironmentMetrics`), Power: ref(`${C}/Power`) }
      : { '@odata.type': '#Chassis.v1_10_0.Chassis', '@odata.id': C, Id: '1U', Power: ref(`${C}/Power`) },
    [`${C}/Sensors`]: {
      '@odata.type': '#SensorCollection.SensorCollection',
      // Listed as the mockup lists them, temperatures and fans first: the poller must look past them.
      Members: ['CPU1Temp', 'FanBay1', 'TotalEnergy', 'TotalPower'].map((id) => ref(`${C}/Sensors/${id}`)),
    },
    [`${C}/Sensors/CPU1Temp`]: sensor('CPU1Temp', 'Temperature', 39),
    [`${C}/Sensors/FanBay1`]: sensor('FanBay1', 'Percent', 45),
    [`${C}/Sensors/TotalPower`]: withPower(FIXTURES.totalPower, (d) => (d.Reading = power)),
    [`${C}/Sensors/TotalEnergy`]: FIXTURES.totalEnergy,
    [`${C}/EnvironmentMetrics`]: withPower(FIXTURES.environment, (d) => (d.PowerWatts.Reading = power)),
    [`${C}/Power`]: withPower(FIXTURES.legacy, (d) => (d.PowerControl[0].PowerConsumedWatts = power)),
  };
}

export async function startFakeBmc(opts: FakeBmcOptions): Promise<FakeBmc> {
  let power: number | null | undefined;
  const requests: string[] = [];
  const sessions = new Set<string>();
  const pending = new Set<NodeJS.Timeout>();
  const answer = (res: http.ServerResponse, status: number, body: unknown, headers: http.OutgoingHttpHeaders = {}) => {
    const text = JSON.stringify(body);
    const send = () => {
      if (res.destroyed) return;
      res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
      res.end(text);
    };
    if (!opts.delayMs) return send();
    const t = setTimeout(() => {
      pending.delete(t);
      send();
    }, opts.delayMs);
    pending.add(t);
  };
  const authorized = (req: http.IncomingMessage): boolean => {
    const auth = opts.auth;
    if (!auth) return true;
    if (auth.kind === 'basic') return req.headers.authorization === `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`;
    return sessions.has(String(req.headers['x-auth-token']));
  };
  const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      requests.push(`${req.method} ${path}`);
      if (opts.status) return answer(res, opts.status, { error: { code: 'Base.1.8.GeneralError', message: 'A general error has occurred.' } });
      if (req.method === 'POST' && path === '/redfish/v1/SessionService/Sessions' && opts.auth?.kind === 'session') {
        const creds = JSON.parse(body || '{}');
        if (creds.UserName !== opts.auth.username || creds.Password !== opts.auth.password) return answer(res, 401, { error: { message: 'bad credentials' } });
        const token = `token-${sessions.size + requests.length}`;
        sessions.add(token);
        return answer(res, 201, { Id: token }, { 'X-Auth-Token': token, Location: `/redfish/v1/SessionService/Sessions/${token}` });
      }
      if (!authorized(req)) return answer(res, 401, { error: { message: 'authentication required' } });
      if (req.method === 'DELETE' && path.startsWith('/redfish/v1/SessionService/Sessions/')) {
        sessions.delete(path.split('/').pop()!);
        return answer(res, 204, {});
      }
      const doc = documents(opts.model, power)[path];
      return doc ? answer(res, 200, doc) : answer(res, 404, { error: { message: `no resource at ${path}` } });
    });
  };
  const server = opts.tls ? https.createServer(selfSignedCert(), handler) : http.createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    requests,
    setPower: (w) => (power = w),
    expireSessions: () => sessions.clear(),
    close: async () => {
      pending.forEach(clearTimeout);
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}
