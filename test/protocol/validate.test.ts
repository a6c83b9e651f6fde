import { describe, expect, it } from 'vitest';
import { parseJson, validateGpuWindow, validateInfo, validateMeterWindow, validateStatus } from '../../protocol/validate.js';
import { gpuWindow, info, meterWindow, stat, status, windowWithRawPower } from '../helpers/windows.js';

function reasonOf(r: { ok: boolean; reason?: string; detail?: string }) {
  return r.ok ? 'ok' : r.reason;
}

function validateText(text: string) {
  const json = parseJson(text);
  return json.ok ? validateGpuWindow(json.value) : json;
}

describe('gpu window validator', () => {
  it('accepts a well-formed window and keeps absent fields absent', () => {
    const r = validateGpuWindow(gpuWindow());
    expect(r.ok).toBe(true);
    if (r.ok) {
      expect(r.value.gpus).toHaveLength(2);
      expect(r.value.gpus[0]).not.toHaveProperty('temp_c');
      expect(r.value.gpus[0]!.power_w).toEqual(stat(500, 20));
    }
  });

  it('rejects null, "NaN" and 1e999 power with distinct reasons', () => {
    expect(reasonOf(validateText(windowWithRawPower('mean', 'null')))).toBe('not_a_number');
    expect(reasonOf(validateText(windowWithRawPower('mean', '"NaN"')))).toBe('not_a_number');
    expect(reasonOf(validateText(windowWithRawPower('max', '1e999')))).toBe('non_finite');
  });

  it('takes an Xid code as a positive integer only', () => {
    const withXid = (xid: unknown) => validateGpuWindow(gpuWindow({ gpus: [{ id: 'GPU-aaaa', xid } as never] }));
    const ok = withXid(79);
    expect(ok.ok && ok.value.gpus[0]!.xid).toBe(79);
    expect(withXid(0)).toMatchObject({ ok: false, reason: 'impossible_value' }); // 0 means none: absent, not 0
    expect(withXid(7.5)).toMatchObject({ ok: false, reason: 'bad_type' });
  });

  it('names the field in the detail', () => {
    const r = validateText(windowWithRawPower('mean', 'null'));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.detail).toBe('gpus[0].power_w.mean is null, not a number');
  });

  it('rejects negative GPU power', () => {
    const w = gpuWindow();
    w.gpus[0]!.power_w = { min: -5, max: 10, mean: 2, last: 2, n: 3 };
    expect(reasonOf(validateGpuWindow(w))).toBe('negative');
  });

  it('rejects power above 10x the enforced limit, and above 5 kW when the limit is unknown', () => {
    const w = gpuWindow();
    w.gpus[0]!.power_w = stat(7001);
    expect(reasonOf(validateGpuWindow(w))).toBe('impossible_value');
    const noLimit = gpuWindow();
    delete noLimit.gpus[0]!.power_limit_w;
    noLimit.gpus[0]!.power_w = stat(4000);
    expect(reasonOf(validateGpuWindow(noLimit))).toBe('ok');
    noLimit.gpus[0]!.power_w = stat(5001);
    expect(reasonOf(validateGpuWindow(noLimit))).toBe('impossible_value');
  });

  it('rejects missing fields by name', () => {
    for (const field of ['boot_id', 'seq', 'first_seq', 'ts', 'window_ms', 'gpus'] as const) {
      const w = gpuWindow() as unknown as Record<string, unknown>;
      delete w[field];
      const r = validateGpuWindow(w);
      expect(reasonOf(r), field).toBe('missing_field');
      if (!r.ok) expect(r.detail).toContain(field);
    }
    const noId = gpuWindow() as unknown as { gpus: Record<string, unknown>[] };
    delete noId.gpus[1]!.id;
    expect(validateGpuWindow(noId)).toMatchObject({ ok: false, reason: 'missing_field', detail: 'gpus[1].id is missing' });
  });

  it('rejects inconsistent statistics, misaligned windows and impossible headers', () => {
    const w = gpuWindow();
    w.gpus[0]!.power_w = { min: 300, max: 200, mean: 250, last: 250, n: 2 };
    expect(reasonOf(validateGpuWindow(w))).toBe('impossible_value');
    expect(reasonOf(validateGpuWindow(gpuWindow({ ts: 1_764_000_000_500 })))).toBe('impossible_value');
    expect(reasonOf(validateGpuWindow(gpuWindow({ first_seq: 9, seq: 3 })))).toBe('impossible_value');
    expect(reasonOf(validateGpuWindow(gpuWindow({ seq: 1.5 })))).toBe('bad_type');
    const dup = gpuWindow();
    dup.gpus[1]!.id = dup.gpus[0]!.id;
    expect(reasonOf(validateGpuWindow(dup))).toBe('impossible_value');
  });

  it('rejects another protocol version as unsupported before anything else', () => {
    expect(reasonOf(validateGpuWindow({ v: 2 }))).toBe('unsupported_version');
  });

  it('rejects non-objects and bad JSON', () => {
    expect(reasonOf(validateGpuWindow([1, 2]))).toBe('bad_type');
    expect(reasonOf(validateGpuWindow(null))).toBe('bad_type');
    expect(reasonOf(parseJson('{"v":1,'))).toBe('invalid_json');
  });
});

describe('meter window validator', () => {
  it('accepts signed power (export) and keeps absent fields absent', () => {
    expect(validateMeterWindow(meterWindow())).toEqual({ ok: true, value: meterWindow() });
    const bare = { v: 1, boot_id: 'b', seq: 0, first_seq: 0, ts: 1_764_000_000_000, window_ms: 10_000, energy_import_wh: 12 };
    expect(validateMeterWindow(bare)).toEqual({ ok: true, value: bare });
  });

  it('rejects impossible readings with their reasons', () => {
    const cases: [object, string][] = [
      [{ pf: stat(1.2) }, 'impossible_value'],
      [{ energy_import_wh: -1 }, 'negative'],
      [{ voltage_v: stat(-5) }, 'negative'],
      [{ power_w: stat(2e8) }, 'impossible_value'],
      [{ power_w: { ...stat(10), mean: 'x' } }, 'not_a_number'],
      [{ ts: 1_764_000_001_000 }, 'impossible_value'], // not aligned to 10 s
      [{ seq: undefined }, 'missing_field'],
    ];
    for (const [over, reason] of cases) expect(reasonOf(validateMeterWindow({ ...meterWindow(), ...over })), JSON.stringify(over)).toBe(reason);
  });
});

describe('status and info validators', () => {
  it('accept well-formed payloads', () => {
    expect(validateStatus(status()).ok).toBe(true);
    expect(validateStatus(status({ state: 'offline' })).ok).toBe(true);
    expect(validateInfo(info()).ok).toBe(true);
  });

  it('reject bad values', () => {
    expect(reasonOf(validateStatus({ ...status(), state: 'sleeping' }))).toBe('bad_type');
    expect(reasonOf(validateStatus({ ...status(), boot_id: undefined }))).toBe('missing_field');
    const noSupports = info();
    delete (noSupports.gpus[0] as unknown as Record<string, unknown>).supports;
    expect(reasonOf(validateInfo(noSupports))).toBe('missing_field');
    expect(reasonOf(validateInfo({ ...info(), simulated: 'yes' }))).toBe('bad_type');
  });
});
