import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { layerConfig } from '../../cli/config-layers.js';
import { OPTIONS } from '../../cli/options.js';
import { writeFileSync } from 'node:fs';
import { ROOT, tempDir } from '../helpers/kilowatch-process.js';

// docs/config.md is written for people; this keeps it from drifting from the option table.
describe('docs/config.md', () => {
  const doc = readFileSync(join(ROOT, 'docs/config.md'), 'utf8');
  it.each(OPTIONS.map((o) => [o.key, o] as const))('documents %s with its flag and variable', (_key, o) => {
    const row = doc.split('\n').find((line) => line.startsWith(`| \`${o.key}\` |`));
    expect(row, `no row for ${o.key}`).toBeDefined();
    expect(row).toContain(`\`--${o.flag}\``);
    expect(row).toContain(`\`${o.env}\``);
  });

  it('has an example file that kilowatch accepts', () => {
    const example = /```yaml\n([\s\S]*?)```/.exec(doc)?.[1];
    expect(example).toBeDefined();
    const file = join(tempDir('example'), 'kilowatch.yaml');
    writeFileSync(file, example!);
    const r = layerConfig({ commands: ['server', 'collector'], argv: ['--config', file], env: {} });
    expect(r.ok ? [] : r.problems).toEqual([]);
  });
});
