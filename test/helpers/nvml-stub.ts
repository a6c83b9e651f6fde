/**
 * Builds the NVML stand-in (test/nvml-stub/libnvidia-ml-stub.c) with gcc into
 * a fresh temp dir, as libnvidia-ml.so.1. Each call gives a separate copy, so
 * every test gets its own library state (the stub reads its KW_NVML_STUB_*
 * environment once per loaded copy). gcc is a stated prerequisite of
 * `npm test` (ARCHITECTURE §8, Tests): when it is missing this fails loudly.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { ROOT, tempDir } from './kilowatch-process.js';

export const NVML_STUB_SOURCE = join(ROOT, 'test/nvml-stub/libnvidia-ml-stub.c');

export interface NvmlStub {
  dir: string;
  libraryPath: string;
}

export function buildNvmlStub(): NvmlStub {
  try {
    execFileSync('gcc', ['--version'], { stdio: 'ignore' });
  } catch {
    throw new Error('gcc is missing: the NVML stand-in library cannot be built. Install it with `apt-get install gcc` (a prerequisite of npm test).');
  }
  const dir = tempDir('nvml-stub');
  const libraryPath = join(dir, 'libnvidia-ml.so.1');
  execFileSync('gcc', ['-shared', '-fPIC', '-O2', '-Wall', '-o', libraryPath, NVML_STUB_SOURCE, '-lm'], { stdio: ['ignore', 'pipe', 'pipe'] });
  return { dir, libraryPath };
}

/** Sets KW_NVML_STUB_* for the next start() (the stub reads them at its first nvmlInit_v2) and returns a restore function. */
export function stubEnv(vars: Record<string, string>): () => void {
  const keys = ['KW_NVML_STUB_GPUS', 'KW_NVML_STUB_HANG', 'KW_NVML_STUB_HANG_RELEASE', 'KW_NVML_STUB_SPIKE_MS', 'KW_NVML_STUB_PIDS'];
  const saved = new Map(keys.map((k) => [k, process.env[k]]));
  for (const k of keys) delete process.env[k];
  Object.assign(process.env, vars);
  return () => {
    for (const [k, v] of saved) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
}
