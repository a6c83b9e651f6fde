/**
 * No outbound traffic (issue 9): `kilowatch all --source sim` runs for a
 * while in a private network namespace that has only loopback (`unshare
 * -rn`), under `strace -f -e trace=connect`, while a driver in the same
 * namespace uses it over loopback (HTTP API, Prometheus endpoints, the web
 * UI, a WebSocket subscription). Every connect() the process or any of its
 * threads made must go to 127.0.0.0/8, ::1 or a unix socket. strace sees
 * native sockets too (DuckDB's, a resolver's), which Node's diagnostics
 * channels would miss. In the namespace an outside address is unreachable,
 * but the attempt is still recorded, and that is what fails the test.
 *
 * Needs unshare (util-linux), strace and ip (iproute2); .ci/run installs
 * them. Without them the test fails and says what to install.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, requireBuild, tempDir } from '../helpers/kilowatch-process.js';

const RUN_MS = Number(process.env.KW_NO_OUTBOUND_MS ?? 20_000);

/** The connect() calls of an strace log whose address is not loopback or local; each as its line. */
export function outboundConnects(log: string): { outside: string[]; loopback: number } {
  const outside: string[] = [];
  let loopback = 0;
  for (const line of log.split('\n')) {
    const at = line.indexOf('connect(');
    if (at < 0 || line.includes('<... connect resumed>')) continue;
    const call = line.slice(at);
    const family = /sa_family=(\w+)/.exec(call)?.[1];
    // Unix sockets, netlink (interface queries) and AF_UNSPEC (dissolving a UDP association) leave no host.
    if (family === 'AF_UNIX' || family === 'AF_NETLINK' || family === 'AF_UNSPEC') continue;
    const v4 = /inet_addr\("([^"]+)"\)/.exec(call)?.[1];
    const v6 = /inet_pton\(AF_INET6, "([^"]+)"/.exec(call)?.[1];
    const local = (family === 'AF_INET' && v4?.startsWith('127.')) || (family === 'AF_INET6' && (v6 === '::1' || v6?.startsWith('::ffff:127.')));
    if (local) loopback += 1;
    else outside.push(line.trim()); // any other family, or a form this reader does not know, is reported rather than trusted
  }
  return { outside, loopback };
}

/** Runs in the namespace beside kilowatch: uses every kind of endpoint over loopback until `ms` have passed. */
const DRIVER = `
import { createRequire } from 'node:module';
const [root, port, ms] = process.argv.slice(2);
const { WebSocket } = createRequire(root + '/package.json')('ws');
const base = 'http://127.0.0.1:' + port;
const sleep = (t) => new Promise((r) => setTimeout(r, t));
const out = { requests: 0, failed: [], ws_messages: 0, gpus: 0 };
for (let i = 0; ; i++) {
  try { if ((await fetch(base + '/healthz')).ok) break; } catch {}
  if (i > 300) { console.log(JSON.stringify({ ...out, failed: ['never ready'] })); process.exit(1); }
  await sleep(100);
}
const ws = new WebSocket(base.replace('http', 'ws') + '/api/v1/live');
ws.on('message', () => (out.ws_messages += 1));
ws.on('open', () => { ws.send(JSON.stringify({ type: 'subscribe', view: 'fleet' })); ws.send(JSON.stringify({ type: 'subscribe', view: 'alerts' })); });
ws.on('error', (e) => out.failed.push('ws: ' + e.message));
const paths = ['/api/v1/fleet', '/api/v1/health', '/api/v1/jobs', '/api/v1/facility', '/api/v1/efficiency', '/api/v1/alerts',
  '/api/v1/series?target=fleet&step=1s&from=' + (Date.now() - 30000), '/metrics', '/metrics/fleet', '/readyz', '/'];
const end = Date.now() + Number(ms);
while (Date.now() < end) {
  for (const p of paths) {
    out.requests += 1;
    try {
      const res = await fetch(base + p);
      const body = await res.text();
      if (!res.ok) out.failed.push(p + ': ' + res.status);
      if (p === '/api/v1/fleet') out.gpus = JSON.parse(body).hosts.flatMap((h) => h.gpus).length;
    } catch (e) { out.failed.push(p + ': ' + e.message); }
  }
  await sleep(500);
}
ws.close();
console.log(JSON.stringify(out));
`;

function missingTools(): string[] {
  return ['unshare', 'strace', 'ip'].filter((t) => spawnSync('sh', ['-c', `command -v ${t}`]).status !== 0);
}

describe('no outbound traffic', () => {
  it('reads the connect() calls of an strace log', () => {
    const log = [
      '101 connect(23, {sa_family=AF_INET, sin_port=htons(1883), sin_addr=inet_addr("127.0.0.1")}, 16) = -1 EINPROGRESS (Operation now in progress)',
      '102 connect(5, {sa_family=AF_INET6, sin6_port=htons(8080), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, "::1", &sin6_addr), sin6_scope_id=0}, 28) = 0',
      '103 connect(6, {sa_family=AF_UNIX, sun_path="/var/run/nscd/socket"}, 110) = -1 ENOENT (No such file or directory)',
      '104 connect(7, {sa_family=AF_UNSPEC, sa_data="\\0\\0\\0\\0"}, 16) = 0',
      '105 connect(8, {sa_family=AF_INET, sin_port=htons(53), sin_addr=inet_addr("10.0.0.2")}, 16 <unfinished ...>',
      '105 <... connect resumed>) = -1 ENETUNREACH (Network is unreachable)',
      '106 connect(9, {sa_family=AF_INET6, sin6_port=htons(443), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, "2606:4700::1111", &sin6_addr), sin6_scope_id=0}, 28) = -1 ENETUNREACH',
    ].join('\n');
    const r = outboundConnects(log);
    expect(r.loopback).toBe(2);
    expect(r.outside.map((l) => l.split(' ')[0])).toEqual(['105', '106']);
  });

  it('kilowatch all connects to nothing but loopback while it is used', async () => {
    const missing = missingTools();
    if (missing.length > 0) {
      throw new Error(`the no-outbound test needs ${missing.join(', ')}: apt-get install -y strace iproute2 util-linux (.ci/run installs them)`);
    }
    const probe = spawnSync('unshare', ['-rn', 'true'], { encoding: 'utf8' });
    if (probe.status !== 0) throw new Error(`unshare -rn does not work here (user and network namespaces needed): ${probe.stderr.trim()}`);
    requireBuild();
    const dir = tempDir('no-outbound');
    const driver = join(dir, 'driver.mjs');
    writeFileSync(driver, DRIVER);
    // strace 5.3+ filters with seccomp-bpf, so untraced syscalls do not stop the process; older ones trace everything, slower.
    const fast = spawnSync('strace', ['--seccomp-bpf', '-f', '-e', 'trace=connect', '-o', '/dev/null', 'true']).status === 0 ? '--seccomp-bpf ' : '';
    const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
    const file = (name: string) => q(join(dir, name));
    // `exec` makes the pid file hold node's pid, so the test stops kilowatch itself and strace exits with it.
    writeFileSync(join(dir, 'kilowatch.sh'), [
      `echo $$ > ${file('pid')}`,
      `exec ${q(process.execPath)} bin/kilowatch.js all --source sim --port 8080 --mqtt-port 1883 --data-dir ${file('data')}`,
    ].join('\n'));
    // Ports are fixed: the namespace is new, so nothing else listens in it.
    writeFileSync(join(dir, 'namespace.sh'), [
      'ip link set lo up || exit 90',
      `cd ${q(ROOT)}`,
      `strace ${fast}-f -e trace=connect -o ${file('strace.log')} sh ${file('kilowatch.sh')} > ${file('kilowatch.log')} 2>&1 &`,
      `${q(process.execPath)} ${q(driver)} ${q(ROOT)} 8080 ${RUN_MS} > ${file('driver.log')} 2>&1; rc=$?`,
      // SIGTERM, not SIGINT: a background job of a non-interactive shell ignores SIGINT.
      `kill -TERM "$(cat ${file('pid')})"; wait; exit $rc`,
    ].join('\n'));
    const child = spawn('unshare', ['-rn', 'sh', join(dir, 'namespace.sh')], { stdio: ['ignore', 'pipe', 'pipe'] });
    let shellOut = '';
    child.stdout.on('data', (d: Buffer) => (shellOut += d.toString()));
    child.stderr.on('data', (d: Buffer) => (shellOut += d.toString()));
    // A hung run is ended whole: kilowatch by its pid (the namespace shares the pid space), then the shell.
    const killer = setTimeout(() => {
      try {
        process.kill(Number(readFileSync(join(dir, 'pid'), 'utf8')), 'SIGKILL');
      } catch {
        // not started, or already gone
      }
      child.kill('SIGKILL');
    }, RUN_MS + 60_000);
    const code = await new Promise<number | null>((res) => child.once('exit', (c) => res(c)));
    clearTimeout(killer);
    const read = (name: string) => {
      try {
        return readFileSync(join(dir, name), 'utf8');
      } catch {
        return `(no ${name})`;
      }
    };
    const context = `\nshell: ${shellOut}\ndriver: ${read('driver.log')}\nkilowatch (last lines): ${read('kilowatch.log').split('\n').slice(-15).join('\n')}`;
    expect(code, `the run in the namespace failed (exit ${code})${context}`).toBe(0);

    const used = JSON.parse(read('driver.log').trim().split('\n').pop()!) as { requests: number; failed: string[]; ws_messages: number; gpus: number };
    expect(used.failed, context).toEqual([]);
    expect(used.gpus).toBe(64);
    expect(used.ws_messages).toBeGreaterThan(3);
    expect(read('kilowatch.log')).toContain('kilowatch: stopped; store flushed');

    const { outside, loopback } = outboundConnects(read('strace.log'));
    expect(outside, `connect() to addresses outside loopback:\n${outside.join('\n')}`).toEqual([]);
    // The tracing itself worked: 8 simulated hosts and the server's ingest client each connected to the embedded broker.
    expect(loopback).toBeGreaterThanOrEqual(9);
  }, RUN_MS + 90_000);
});
