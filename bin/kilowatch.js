#!/usr/bin/env node
// The kilowatch command runs the compiled JavaScript in dist/ (Node 20 cannot run .ts files).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const entry = new URL('../dist/cli/kilowatch.js', import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
  console.error('kilowatch: not built yet (no dist/cli/kilowatch.js). Run: npm run build');
  process.exit(1);
}
await import(entry.href);
