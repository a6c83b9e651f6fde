/**
 * Runs the built `kilowatch` command as a child process, the way an operator
 * does, and waits for the line that says where it listens.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '../..');
export const BIN = join(ROOT, 'bin/kilowatch.js');

export interface KilowatchProcess {
  child: ChildProcess;
  output: () => string;
  httpUrl?: string;
  brokerUrl?: string;
  /** Sends SIGINT and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export function requireBuild(): void {
  if (!existsSync(join(ROOT, 'dist/cli/kilowatch.js'))) {
    throw new Error('dist/cli/kilowatch.js is missing: run `npm run build` first (npm test does it)');
  }
}

export function tempDir(name: string): string {
  return mkdtempSync(join(tmpdir(), `kilowatch-${name}-`));
}

/** Starts `kilowatch <args>`; resolves once `readyPattern` appears in its output. */
export async function startKilowatch(args: string[], readyPattern: RegExp, timeoutMs = 20_000, env: NodeJS.ProcessEnv = {}): Promise<KilowatchProcess> {
  requireBuild();
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
  const proc: KilowatchProcess = {
    child,
    output: () => out,
    async stop(signal = 'SIGINT') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
  await new Promise<void>((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`kilowatch ${args.join(' ')} not ready in ${timeoutMs} ms; output:\n${out}`)), timeoutMs);
    const check = () => {
      if (readyPattern.test(out)) {
        clearTimeout(timer);
        child.stdout.off('data', check);
        res();
      }
    };
    child.stdout.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      rej(new Error(`kilowatch ${args.join(' ')} exited with ${code} before it was ready; output:\n${out}`));
    });
  });
  proc.httpUrl = /server ready at (http:\/\/\S+)/.exec(out)?.[1];
  proc.brokerUrl = /\(MQTT (mqtt:\/\/\S+)\)/.exec(out)?.[1];
  return proc;
}

/** Runs `kilowatch <args>` to completion. */
export function runKilowatch(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; output: string }> {
  requireBuild();
  return new Promise((res) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.once('exit', (code) => res({ code, output: out }));
  });
}

export async function getJson<T = any>(url: string): Promise<T> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return (await res.json()) as T;
}

/** Polls `probe` until it returns a value, or fails with the last error. */
export async function eventually<T>(probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 15_000, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`condition not met in ${timeoutMs} ms${last ? `: ${(last as Error).message}` : ''}`);
}
