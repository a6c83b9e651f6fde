/** What the sources produced on a real H200 must be valid protocol v1: the inventory goes out as `info` unchanged. */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { validateInfo } from '../../../protocol/validate.js';
import { ROOT } from '../../helpers/kilowatch-process.js';

const DIR = join(ROOT, 'test/fixtures/hardware');

// The source captures (nvml__*, nvidia-smi__*) carry an inventory; the kilowatch-all capture carries API documents.
describe.each(readdirSync(DIR).filter((f) => /^(nvml|nvidia-smi)__.*\.json$/.test(f)))('hardware capture %s', (file) => {
  const capture = JSON.parse(readFileSync(join(DIR, file), 'utf8'));

  it('has an inventory that the protocol validator accepts as info', () => {
    const r = validateInfo({ v: 1, boot_id: 'capture', ts: 0, simulated: false, gpus: capture.inventory, meters: [] });
    expect(r.ok ? 'ok' : r.detail).toBe('ok');
    expect(capture.inventory[0].id).toBe('GPU-4e75ed1a-e502-a735-36aa-a62626ad4c75');
    expect(capture.inventory[0].power_limit_w).toBe(700);
  });
});
