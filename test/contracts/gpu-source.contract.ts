/**
 * The contract every GPU source keeps (collector/sources/source.ts), run
 * against each one by gpu-sources.test.ts with the same cases. A case a
 * source cannot exercise is skipped with its reason stated, never silently.
 */
import { expect, it } from 'vitest';
import type { GpuSource } from '../../collector/sources/source.js';
import { HostWindow } from '../../collector/window.js';
import { validateGpuWindow, validateInfo } from '../../protocol/validate.js';

export interface SourceUnderTest {
  source: GpuSource;
  /** Fields this source cannot read for a GPU: they must be absent from its samples, never 0. */
  absent: { id: string; field: string }[];
  /** The same fields where this source can read them: proves the absent checks name real fields. */
  present: { id: string; field: string }[];
  /** Feeds one malformed reading; undefined when the source cannot receive one (reason in `noMalformed`). */
  injectMalformed?: () => Promise<void>;
  noMalformed?: string;
  cleanup?: () => Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function readings(source: GpuSource, atLeast = 1, ms = 5000) {
  const end = Date.now() + ms;
  for (;;) {
    const samples = source.read(Date.now());
    if (samples.length >= atLeast || Date.now() > end) return samples;
    await sleep(50);
  }
}

export function gpuSourceContract(make: () => Promise<SourceUnderTest>): void {
  it('starts, and describes its GPUs in an inventory the protocol accepts', async () => {
    const t = await make();
    try {
      await t.source.start();
      const gpus = t.source.inventory();
      expect(gpus.length).toBeGreaterThan(0);
      const info = validateInfo({ v: 1, boot_id: 'contract', ts: 0, simulated: t.source.kind === 'sim', gpus, meters: [] });
      expect(info.ok ? 'ok' : info.detail).toBe('ok');
    } finally {
      await t.source.stop();
      await t.cleanup?.();
    }
  });

  it('gives readings that make well-formed windows, with unsupported values absent, not 0', async () => {
    const t = await make();
    try {
      await t.source.start();
      const window = new HostWindow(0, 1000);
      for (let i = 0; i < 3; i++) {
        window.add(await readings(t.source));
        await sleep(120);
      }
      const body = window.close();
      const r = validateGpuWindow({ v: 1, boot_id: 'contract', seq: 0, first_seq: 0, ...body });
      expect(r.ok ? 'ok' : r.detail).toBe('ok');
      const samples = await readings(t.source);
      for (const { id, field } of t.present) {
        expect(samples.find((x) => x.id === id), `${field} of ${id} must be present`).toHaveProperty(field);
      }
      for (const { id, field } of t.absent) {
        const s = samples.find((x) => x.id === id);
        expect(s, `no reading for ${id}`).toBeDefined();
        expect(s, `${field} of ${id} must be absent`).not.toHaveProperty(field);
      }
      for (const s of samples) for (const v of Object.values(s)) if (typeof v === 'number') expect(Number.isFinite(v)).toBe(true);
    } finally {
      await t.source.stop();
      await t.cleanup?.();
    }
  });

  it('survives a malformed reading and counts it', async (ctx) => {
    const t = await make();
    try {
      if (!t.injectMalformed) return ctx.skip(t.noMalformed);
      await t.source.start();
      await t.injectMalformed();
      const counted = Object.entries(t.source.health()).filter(([k, v]) => /malformed|dropped|bad|skipped|error/.test(k) && v > 0);
      expect(counted.length, JSON.stringify(t.source.health())).toBeGreaterThan(0);
      expect((await readings(t.source)).length).toBeGreaterThan(0);
    } finally {
      await t.source.stop();
      await t.cleanup?.();
    }
  });

  it('stops promptly, and read() after stop() neither throws nor blocks', async () => {
    const t = await make();
    await t.source.start();
    const began = Date.now();
    await t.source.stop();
    expect(Date.now() - began).toBeLessThan(3000);
    expect(() => t.source.read(Date.now())).not.toThrow();
    await t.cleanup?.();
  });
}
