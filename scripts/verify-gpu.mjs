// Read-only check of kilowatch's compiled GPU sources on a real NVIDIA machine.
// Run by scripts/verify-gpu.sh from the repo root, after `npm run build:server`.
//
// It starts the NVML source (dist/collector/sources/nvml.js) and the nvidia-smi
// source (dist/collector/sources/nvidia-smi.js) side by side, calls read() on a
// 100 ms grid as the sampler does, optionally runs a short matmul load with
// whatever python3 offers (torch, else cupy), and writes what the sources
// PARSED, summarised, to $OUT/nvml-h200.json and $OUT/nvidia-smi-h200.json.
// It never changes a GPU setting. A source that fails writes its error to its
// JSON; the script still exits 0.
//
// Overrides for a dry run without hardware: KW_VERIFY_NVML_LIB (library path),
// KW_VERIFY_NVIDIA_SMI (binary path), KW_VERIFY_SECONDS (minimum sampling time).
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { hostname, release } from 'node:os';
import { join } from 'node:path';

const OUT = process.env.OUT || '.';
const MIN_MS = 1000 * Number(process.env.KW_VERIFY_SECONDS || 10);
const MAX_MS = 30_000;
const LOAD_SECONDS = 4;
const GRID_MS = 100;
mkdirSync(OUT, { recursive: true });

// A few seconds of fp16 matmuls on GPU 0; prints "start <tool>" when the load begins and "end" when it stops.
const LOAD_PY = `
import sys, time
secs = float(sys.argv[1])
try:
    import torch
    assert torch.cuda.is_available(), "torch without CUDA"
    a = torch.randn(8192, 8192, device="cuda", dtype=torch.float16)
    (a @ a); torch.cuda.synchronize()
    print("start torch", flush=True)
    t = time.time()
    while time.time() - t < secs:
        for _ in range(8): b = a @ a
        torch.cuda.synchronize()
except Exception as e1:
    try:
        import cupy
        a = cupy.random.random((8192, 8192)).astype(cupy.float16)
        (a @ a); cupy.cuda.Device().synchronize()
        print("start cupy", flush=True)
        t = time.time()
        while time.time() - t < secs:
            for _ in range(8): b = a @ a
            cupy.cuda.Device().synchronize()
    except Exception as e2:
        print("none torch: %s; cupy: %s" % (e1, e2), flush=True)
        sys.exit(0)
print("end", flush=True)
`;

function startLoad(t0) {
  const load = { tool: null, note: '', started_ms: null, ended_ms: null, done: false };
  let proc;
  try {
    proc = spawn('python3', ['-c', LOAD_PY, String(LOAD_SECONDS)], { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    load.note = `python3 not runnable: ${err.message}; measured without load`;
    load.done = true;
    return { load, proc: undefined };
  }
  let buf = '';
  proc.stdout.on('data', (d) => {
    buf += d;
    for (let i; (i = buf.indexOf('\n')) >= 0; buf = buf.slice(i + 1)) {
      const line = buf.slice(0, i);
      if (line.startsWith('start ')) [load.tool, load.started_ms] = [line.slice(6), Date.now() - t0];
      else if (line === 'end') load.ended_ms = Date.now() - t0;
      else if (line.startsWith('none ')) load.note = `no load tool (${line.slice(5)}); measured without load`;
    }
  });
  proc.stderr.resume();
  proc.on('error', (err) => ((load.note = `python3 not runnable: ${err.message}; measured without load`), (load.done = true)));
  proc.on('exit', (code) => {
    load.done = true;
    if (!load.tool && !load.note) load.note = `load process exited with ${code} before starting`;
  });
  return { load, proc };
}

const stat = (xs) => (xs.length === 0 ? null : { n: xs.length, min: Math.min(...xs), max: Math.max(...xs), mean: xs.reduce((a, b) => a + b, 0) / xs.length });
const pct = (xs, p) => (xs.length === 0 ? null : [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))]);
const FIELDS = ['power_w', 'power_avg_w', 'energy_mj', 'util_pct', 'mem_used_mib', 'temp_c', 'sm_clock_mhz', 'power_limit_w', 'throttle', 'processes'];

/** Per-GPU summary of what read() returned: distinct readings, power stats, counter delta vs integrated power, absent fields. */
function summarise(reads, t0) {
  const byGpu = new Map();
  for (const { t, samples } of reads) {
    for (const s of samples) {
      const g = byGpu.get(s.id) ?? { reads: 0, distinct: [], throttle: new Set(), processes: 0 };
      g.reads += 1;
      const key = s.ts_ms ?? t;
      if (g.distinct.at(-1)?.key !== key) g.distinct.push({ key, t, s });
      for (const r of s.throttle ?? []) g.throttle.add(r);
      g.processes = Math.max(g.processes, s.processes?.length ?? 0);
      byGpu.set(s.id, g);
    }
  }
  return [...byGpu].map(([id, g]) => {
    const d = g.distinct;
    const power = d.map((x) => x.s.power_w).filter((v) => v !== undefined);
    const gaps = d.slice(1).map((x, i) => x.key - d[i].key);
    const withE = d.filter((x) => x.s.energy_mj !== undefined && x.s.power_w !== undefined && x.s.ts_ms !== undefined);
    let energy = null;
    if (withE.length >= 2) {
      const trap = (k) => withE.slice(1).reduce((sum, x, i) => sum + ((x.s[k] + withE[i].s[k]) / 2) * (x.s.ts_ms - withE[i].s.ts_ms), 0);
      const counter = withE.at(-1).s.energy_mj - withE[0].s.energy_mj;
      const inst = trap('power_w');
      energy = {
        interval_ms: withE.at(-1).s.ts_ms - withE[0].s.ts_ms,
        counter_delta_mj: counter,
        integrated_power_w_mj: inst,
        counter_over_integral: inst > 0 ? counter / inst : null,
        counter_resets: withE.filter((x) => x.s.counter_reset).length,
      };
      if (withE.every((x) => x.s.power_avg_w !== undefined)) energy.integrated_power_avg_w_mj = trap('power_avg_w');
    }
    return {
      id,
      reads: g.reads,
      distinct_readings: d.length,
      reading_interval_ms: { median: pct(gaps, 0.5), p95: pct(gaps, 0.95), max: gaps.length ? Math.max(...gaps) : null },
      power_w: stat(power),
      power_avg_w: stat(d.map((x) => x.s.power_avg_w).filter((v) => v !== undefined)),
      util_pct: stat(d.map((x) => x.s.util_pct).filter((v) => v !== undefined)),
      temp_c: stat(d.map((x) => x.s.temp_c).filter((v) => v !== undefined)),
      energy,
      present_fields: FIELDS.filter((f) => d.some((x) => x.s[f] !== undefined)),
      absent_fields: FIELDS.filter((f) => !d.some((x) => x.s[f] !== undefined)),
      throttle_seen: [...g.throttle],
      max_processes: g.processes,
      first_sample: d[0]?.s ?? null,
      last_sample: d.at(-1)?.s ?? null,
      // [ms since start, power_w, power_avg_w, energy_mj - first] per distinct reading, at most 400 rows.
      timeline: d.slice(0, 400).map((x) => [x.t - t0, x.s.power_w ?? null, x.s.power_avg_w ?? null, x.s.energy_mj === undefined || d[0].s.energy_mj === undefined ? null : x.s.energy_mj - d[0].s.energy_mj]),
    };
  });
}

async function main() {
  const t0 = Date.now();
  const env = { node: process.version, host: hostname(), kernel: release(), started_at: new Date(t0).toISOString() };
  const specs = [
    { name: 'nvml', file: 'nvml-h200.json', module: './dist/collector/sources/nvml.js', make: (m) => new m.NvmlSource({ libraryPath: process.env.KW_VERIFY_NVML_LIB || 'libnvidia-ml.so.1', powerIntervalMs: 100 }) },
    { name: 'nvidia-smi', file: 'nvidia-smi-h200.json', module: './dist/collector/sources/nvidia-smi.js', make: (m) => new m.NvidiaSmiSource({ binary: process.env.KW_VERIFY_NVIDIA_SMI || 'nvidia-smi', intervalMs: 100 }) },
  ];
  const runs = await Promise.all(
    specs.map(async (spec) => {
      const r = { spec, source: undefined, result: { source: spec.name, ok: false, env }, reads: [] };
      try {
        const mod = await import(join(process.cwd(), spec.module));
        r.source = spec.make(mod);
        const s0 = Date.now();
        await r.source.start();
        r.result.start_ms = Date.now() - s0;
        r.result.inventory = r.source.inventory();
        r.result.ok = true;
      } catch (err) {
        r.result.error = String(err?.stack ?? err);
        r.source = undefined;
      }
      return r;
    }),
  );
  const { load, proc } = runs.some((r) => r.source) ? startLoad(t0) : { load: { note: 'no source started; no load' , done: true }, proc: undefined };
  const end = () => {
    const el = Date.now() - t0;
    if (el >= MAX_MS) return true;
    if (el < MIN_MS) return false;
    return load.done || (load.ended_ms !== null && el > load.ended_ms + 2000);
  };
  while (!end()) {
    const t = (Math.floor(Date.now() / GRID_MS) + 1) * GRID_MS;
    await new Promise((res) => setTimeout(res, t - Date.now()));
    for (const r of runs) {
      if (!r.source) continue;
      try {
        r.reads.push({ t, samples: r.source.read(t) });
      } catch (err) {
        r.result.read_error = String(err); // read() must never throw: record it if it does
      }
    }
  }
  proc?.kill('SIGKILL');
  for (const r of runs) {
    if (r.source) {
      const s0 = Date.now();
      try {
        await r.source.stop();
      } catch (err) {
        r.result.stop_error = String(err);
      }
      r.result.stop_ms = Date.now() - s0;
      r.result.health = r.source.health();
      r.result.sampling = { grid_ms: GRID_MS, reads: r.reads.length, duration_ms: Date.now() - t0 };
      r.result.gpus = summarise(r.reads, t0);
    }
    r.result.load = load;
    writeFileSync(join(OUT, r.spec.file), `${JSON.stringify(r.result, (k, v) => (typeof v === 'bigint' ? String(v) : v), 2)}\n`);
    console.log(`${r.spec.name}: ${r.result.ok ? `ok, ${r.result.gpus?.length ?? 0} GPU(s), ${r.reads.length} reads` : `FAILED: ${r.result.error?.split('\n')[0]}`} -> ${join(OUT, r.spec.file)}`);
  }
  console.log(`load: ${load.tool ? `${load.tool} from ${load.started_ms} to ${load.ended_ms} ms` : load.note}`);
  // A worker stuck in NVML keeps Node from exiting (it joins threads at exit); the files are written, so then leave hard.
  if (runs.some((r) => (r.result.health?.nvml_workers_stuck ?? 0) > 0)) process.kill(process.pid, 'SIGKILL');
  process.exit(0);
}

main().catch((err) => {
  console.error('verify-gpu.mjs failed:', err);
  process.exitCode = 0;
});
