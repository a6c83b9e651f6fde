/**
 * A fake `nvidia-smi` shell script in a temp dir, for the nvidia-smi source's
 * tests and the source contract suite. It answers --help-query-gpu with the
 * H100 capture's help text and prints rows built from the H100 fixtures for
 * whatever fields the source asked for. Its first -lms run prints one
 * malformed line and exits, so the restart path runs; the second one loops
 * like the real tool.
 */
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseHelpQueryGpu, parseQueryCsv, selectQueryFields, type SmiRow } from '../../collector/sources/parse-nvidia-smi.js';
import { ROOT, tempDir } from './kilowatch-process.js';

const FIXTURES = join(ROOT, '..', 'shared', 'fixtures', 'nvidia-smi');
const fixture = (name: string) => readFileSync(join(FIXTURES, name), 'utf8');

/** `--format=csv,noheader,nounits` drops the units that the captures (made with units) carry. */
const nounits = (v: string) => v.replace(/ (W|MiB|MHz|%|us)$/, '');

export function fakeNvidiaSmi(): { dir: string; binary: string; fields: string[] } {
  const dir = tempDir('fake-nvidia-smi');
  const capture = fixture('nvidia_gpu_exporter__linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01.txt');
  const start = capture.indexOf('\n', capture.indexOf('# $ nvidia-smi --help-query-gpu') + 1);
  const help = capture.slice(capture.indexOf('\n', start + 1) + 1, capture.indexOf('\n####', start + 1));
  const fields = selectQueryFields(parseHelpQueryGpu(help));
  const row = (file: string): SmiRow => parseQueryCsv(fixture(file)).rows[0]!;
  const line = (r: SmiRow) => `${fields.map((f) => nounits(r[f] ?? '[N/A]')).join(', ')}\n`;
  const apps = parseQueryCsv(fixture('capture__linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01__load__query-compute-apps.csv')).rows;
  writeFileSync(join(dir, 'help.txt'), help);
  writeFileSync(join(dir, 'load.csv'), line(row('capture__linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01__load__query-gpu-all-fields.csv')));
  writeFileSync(join(dir, 'idle.csv'), line(row('capture__linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01__idle__query-gpu-all-fields.csv')));
  writeFileSync(join(dir, 'apps.csv'), apps.map((a) => `${a.gpu_uuid}, ${a.pid}, ${nounits(a['used_gpu_memory']!)}\n`).join(''));
  const binary = join(dir, 'nvidia-smi');
  writeFileSync(
    binary,
    `#!/bin/sh
d='${dir}'
printf '%s\\n' "$*" >> "$d/args.log"
case "$*" in
  *--help-query-gpu*) cat "$d/help.txt" ;;
  *--query-compute-apps=*) cat "$d/apps.csv" ;;
  *-lms*)
    if [ ! -e "$d/looped" ]; then
      : > "$d/looped"
      cat "$d/load.csv"; sleep 0.3
      echo "GPU-garbage, 12"; sleep 0.3
      cat "$d/load.csv"; sleep 0.3
      exit 1
    fi
    while :; do cat "$d/idle.csv"; sleep 0.1; done ;;
  *--query-gpu=*) cat "$d/load.csv" ;;
  *) echo "unexpected arguments: $*" >&2; exit 2 ;;
esac
`,
  );
  chmodSync(binary, 0o755);
  return { dir, binary, fields };
}

