/**
 * Parser tests loop over every captured fixture of a folder: one test per
 * file, and a test that fails when a fixture arrives without expectations,
 * so a new capture can never pass unread.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './kilowatch-process.js';

/** ../shared/fixtures beside the checkout (CI lays a copy there). */
export const SHARED_FIXTURES = join(ROOT, '..', 'shared', 'fixtures');

/** Each check gets the file's text and its name (checks that read the file themselves use the name). */
export function describeFixtures(title: string, dir: string, expectations: Record<string, (text: string, file: string) => void>): void {
  describe(title, () => {
    const files = readdirSync(dir).sort();

    it('has expectations for exactly the fixtures present', () => expect(files).toEqual(Object.keys(expectations).sort()));

    it.each(files)('%s', (file) => {
      const check = expectations[file];
      expect(check, `no expectations for fixture ${file}: read it and add them here`).toBeDefined();
      check!(readFileSync(join(dir, file), 'utf8'), file);
    });
  });
}
