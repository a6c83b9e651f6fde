/**
 * A real snmpd from Debian's package, started on a free UDP port with its own
 * config and persistent dir in a temp dir, serving OID subtrees through
 * `pass_persist` with test/fixtures/snmp/pdu-agent.mjs, whose values come from
 * a JSON state file the test rewrites between polls. When the package is
 * missing it fails and says how to install it: a test never passes silently
 * without it (as test/helpers/mosquitto.ts does for Mosquitto).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const SNMPD = '/usr/sbin/snmpd';
const AGENT = resolve(import.meta.dirname, '../fixtures/snmp/pdu-agent.mjs');

export function requireSnmpd(): void {
  if (!existsSync(SNMPD)) {
    throw new Error(`snmpd is not installed (${SNMPD} missing): run \`apt-get install snmpd\` (.ci/run does)`);
  }
}

/** The v2c community and v3 user every test snmpd accepts (read-only, loopback only). */
export const SNMPD_COMMUNITY = 'kilowatch-test';
export const SNMPD_V3_USER = { name: 'kwv3', authProtocol: 'sha', authKey: 'kw-auth-pass', privProtocol: 'aes', privKey: 'kw-priv-pass' } as const;

export type OidState = Record<string, [type: 'integer' | 'gauge' | 'counter' | 'string', value: number | string]>;

export interface Snmpd {
  port: number;
  /** Replaces what the stand-in PDU answers from now on. */
  setState(state: OidState): void;
  log: () => string;
  stop(): Promise<void>;
}

async function freeUdpPort(): Promise<number> {
  const sock = createSocket('udp4');
  await new Promise<void>((res) => sock.bind(0, '127.0.0.1', res));
  const { port } = sock.address();
  await new Promise<void>((res) => sock.close(() => res()));
  return port;
}

interface NetSnmpLike {
  Version2c: number;
  createSession(host: string, community: string, options: object): { get(oids: string[], cb: (err: Error | null) => void): void; close(): void };
}

/** True once the agent answers a GET of sysUpTime.0 on the v2c community. */
function answers(port: number): Promise<boolean> {
  const snmp = createRequire(import.meta.url)('net-snmp') as NetSnmpLike;
  const session = snmp.createSession('127.0.0.1', SNMPD_COMMUNITY, { port, retries: 0, timeout: 300, version: snmp.Version2c });
  return new Promise((res) => session.get(['1.3.6.1.2.1.1.3.0'], (err) => {
    session.close();
    res(!err);
  }));
}

/** Starts snmpd with one pass_persist handler per subtree, all fed from one state file. */
export async function startSnmpd(opts: { subtrees: string[]; state?: OidState }): Promise<Snmpd> {
  requireSnmpd();
  const dir = mkdtempSync(join(tmpdir(), 'kilowatch-snmpd-'));
  const port = await freeUdpPort();
  const stateFile = join(dir, 'state.json');
  const setState = (state: OidState) => writeFileSync(stateFile, JSON.stringify(state));
  setState(opts.state ?? {});
  const u = SNMPD_V3_USER;
  const conf = [
    `agentAddress udp:127.0.0.1:${port}`,
    `rocommunity ${SNMPD_COMMUNITY} 127.0.0.1`,
    `createUser ${u.name} SHA "${u.authKey}" AES "${u.privKey}"`,
    `rouser ${u.name} priv`,
    ...opts.subtrees.map((oid) => `pass_persist .${oid.replace(/^\./, '')} ${process.execPath} ${AGENT} ${stateFile} .${oid.replace(/^\./, '')}`),
  ].join('\n');
  const confFile = join(dir, 'snmpd.conf');
  writeFileSync(confFile, `${conf}\n`);
  // -C: no system config files; SNMP_PERSISTENT_DIR keeps the v3 user store out of /var/lib/snmp; MIBS empty: no MIB parsing.
  const child: ChildProcess = spawn(SNMPD, ['-f', '-Lo', '-C', '-c', confFile, '-p', join(dir, 'snmpd.pid')], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, SNMP_PERSISTENT_DIR: dir, MIBS: '' },
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((res) => child.once('exit', () => res()));
  const deadline = Date.now() + 10_000;
  while (!(await answers(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`snmpd did not start on udp 127.0.0.1:${port}:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    port,
    setState,
    log: () => out,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

// ---- an SNMP agent inside the test process, for the unit tier (no Debian package) ----

interface NetSnmpAgentLib {
  ObjectType: Record<string, number>;
  MibProviderType: Record<string, number>;
  MaxAccess: Record<string, number>;
  ErrorStatus: Record<string, number>;
  createAgent(options: object, cb: (err: Error | null) => void): {
    getAuthorizer(): { addCommunity(c: string): void };
    getMib(): { registerProvider(p: object): void; setScalarValue(name: string, v: number): void };
    close(cb?: () => void): void;
  };
}

export interface InProcessAgent {
  port: number;
  /** The next value of each scalar, read on every GET. */
  values: Record<string, number>;
  close(): Promise<void>;
}

/**
 * net-snmp's own agent serving Integer scalars `<oid>.0` on the v2c community
 * SNMPD_COMMUNITY. `failing`: every GET answers genErr (RFC 3416 error-status 5).
 */
export async function startInProcessAgent(scalars: Record<string, number>, opts: { failing?: boolean } = {}): Promise<InProcessAgent> {
  const snmp = createRequire(import.meta.url)('net-snmp') as NetSnmpAgentLib;
  const port = await freeUdpPort();
  const agent = snmp.createAgent({ port, address: '127.0.0.1', disableAuthorization: false }, () => undefined);
  agent.getAuthorizer().addCommunity(SNMPD_COMMUNITY);
  const mib = agent.getMib();
  const values = { ...scalars };
  for (const oid of Object.keys(scalars)) {
    mib.registerProvider({
      name: oid, type: snmp.MibProviderType.Scalar, oid: oid.replace(/\.0$/, ''), scalarType: snmp.ObjectType.Integer, maxAccess: snmp.MaxAccess['read-only'],
      handler: (req: { instanceNode: { value: number }; done(e?: object): void }) => {
        if (opts.failing) return req.done({ errorStatus: snmp.ErrorStatus.GeneralError });
        req.instanceNode.value = values[oid]!;
        req.done();
      },
    });
    mib.setScalarValue(oid, scalars[oid]!);
  }
  return { port, values, close: () => new Promise<void>((r) => agent.close(() => r())) };
}
