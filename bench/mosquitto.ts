/**
 * A real Mosquitto from Debian's package, started on a free port with the
 * tuned docs/mosquitto.conf, for the benchmarks and the integration tests.
 * When the package is missing it fails and says how to install it: a test or
 * a benchmark never passes silently without it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { type AddressInfo, createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, import.meta.dirname.includes('/dist/') ? '../..' : '..');

export const MOSQUITTO = '/usr/sbin/mosquitto';

export function requireMosquitto(): void {
  if (!existsSync(MOSQUITTO)) {
    throw new Error(`Mosquitto is not installed (${MOSQUITTO} missing): run \`apt-get install mosquitto\` (.ci/run does)`);
  }
}

export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((res) => srv.listen(0, '127.0.0.1', res));
  const { port } = srv.address() as AddressInfo;
  await new Promise((res) => srv.close(res));
  return port;
}

export interface Mosquitto {
  url: string;
  port: number;
  pid: number;
  log: () => string;
  stop(): Promise<void>;
}

/**
 * Starts Mosquitto with docs/mosquitto.conf, its own port and persistence dir; `persistence` may be turned off.
 * `user`: who it runs as when started as root (its default drops to `mosquitto`, which fails in a user namespace).
 */
export async function startMosquitto(opts: { port?: number; persistence?: boolean; dir?: string; passwordFile?: string; user?: string } = {}): Promise<Mosquitto> {
  requireMosquitto();
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'kilowatch-mosquitto-'));
  const port = opts.port ?? (await freePort());
  const conf = readFileSync(join(ROOT, 'docs/mosquitto.conf'), 'utf8')
    .replace(/^listener .*$/m, `listener ${port} 127.0.0.1`)
    .replace(/^persistence_location .*$/m, `persistence_location ${dir}/`)
    .replace(/^persistence true$/m, `persistence ${opts.persistence === false ? 'false' : 'true'}`)
    // A broker with users (mosquitto_passwd): anonymous clients are refused.
    .replace(/^allow_anonymous true$/m, opts.passwordFile ? `allow_anonymous false\npassword_file ${opts.passwordFile}` : 'allow_anonymous true') +
    (opts.user ? `\nuser ${opts.user}\n` : '');
  const confFile = join(dir, 'mosquitto.conf');
  writeFileSync(confFile, conf);
  const child: ChildProcess = spawn(MOSQUITTO, ['-c', confFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((res) => child.once('exit', () => res()));
  // Ready when the port accepts a connection.
  const deadline = Date.now() + 10_000;
  for (;;) {
    const ok = await new Promise<boolean>((res) => {
      const s = connect(port, '127.0.0.1', () => (s.end(), res(true)));
      s.once('error', () => res(false));
    });
    if (ok) break;
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`Mosquitto did not start on port ${port}:\n${out}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url: `mqtt://127.0.0.1:${port}`,
    port,
    pid: child.pid!,
    log: () => out,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
