// Rewrites the settings table of docs/config.md from the option table (cli/options.ts),
// so the reference cannot drift: `npm run docs:config` after changing an option.
// test/cli/config-reference.test.ts fails when the two disagree.
import { readFileSync, writeFileSync } from 'node:fs';
import { OPTIONS } from '../dist/cli/options.js';

const file = new URL('../docs/config.md', import.meta.url);
const dflt = (o) => (Array.isArray(o.default) ? o.default.join(',') : o.default === '' ? '(none)' : String(o.default));
const range = (o) => (o.min !== undefined ? ` (${o.min}..${o.max})` : o.values ? ` (${o.values.join(', ')})` : '');
const rows = OPTIONS.map((o) => `| \`${o.key}\` | \`--${o.flag}\` | \`${o.env}\` | ${dflt(o)}${range(o)} | ${o.help} |`).join('\n');
const doc = readFileSync(file, 'utf8');
const head = '|---|---|---|---|---|\n';
const start = doc.indexOf(head) + head.length;
const end = doc.indexOf('\n## Example');
writeFileSync(file, doc.slice(0, start) + rows + '\n' + doc.slice(end));
console.log(`docs/config.md: ${OPTIONS.length} settings`);
