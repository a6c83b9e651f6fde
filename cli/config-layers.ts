/**
 * Configuration flows one way (ARCHITECTURE.md §6.4): defaults from the option
 * table, then kilowatch.yaml, then KILOWATCH_* variables, then flags. Every
 * value is checked once, every problem is listed, and the caller gets plain
 * values or the list. This is the only module that sees process.env and argv,
 * and it receives them as arguments.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { type Command, OPTIONS, type OptionSpec } from './options.js';

export type Values = ReadonlyMap<string, number | string | string[] | boolean>;

export type Layered =
  | { ok: true; values: Values; help: boolean; configFile: string | undefined }
  | { ok: false; problems: string[] };

export interface LayerInput {
  commands: readonly Command[];
  argv: string[];
  env: Record<string, string | undefined>;
  /** Used when neither --config nor KILOWATCH_CONFIG names a file. */
  defaultConfigFile?: string;
}

export function layerConfig(input: LayerInput): Layered {
  const specs = OPTIONS.filter((o) => o.for.some((c) => input.commands.includes(c)));
  const problems: string[] = [];

  let flags: Record<string, string | boolean | undefined> = {};
  try {
    const parsed = parseArgs({
      args: input.argv,
      strict: true,
      allowPositionals: false,
      options: {
        ...Object.fromEntries(specs.map((o) => [o.flag, { type: o.kind === 'bool' ? 'boolean' : 'string' } as const])),
        config: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    flags = parsed.values as typeof flags;
  } catch (err) {
    return { ok: false, problems: [(err as Error).message] };
  }

  const values = new Map<string, number | string | string[] | boolean>();
  for (const o of specs) values.set(o.key, o.default);

  const configFile = (flags.config as string | undefined) ?? input.env.KILOWATCH_CONFIG ?? input.defaultConfigFile;
  if (configFile !== undefined) readFileLayer(configFile, flags.config !== undefined || input.env.KILOWATCH_CONFIG !== undefined, specs, values, problems);

  for (const o of specs) {
    const raw = input.env[o.env];
    if (raw !== undefined && raw !== '') setChecked(o, raw, `${o.env}`, values, problems);
  }
  for (const o of specs) {
    const raw = flags[o.flag];
    if (raw !== undefined) setChecked(o, raw, `--${o.flag}`, values, problems);
  }
  if (problems.length > 0) return { ok: false, problems };
  return { ok: true, values, help: flags.help === true, configFile };
}

function readFileLayer(
  file: string, named: boolean, specs: readonly OptionSpec[], values: Map<string, unknown>, problems: string[],
): void {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    // The default kilowatch.yaml is optional; a file the operator named is not.
    if (named || (err as NodeJS.ErrnoException).code !== 'ENOENT') problems.push(`${file}: cannot read (${(err as Error).message})`);
    return;
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    problems.push(`${file}: not valid YAML (${(err as Error).message.split('\n')[0]})`);
    return;
  }
  if (doc === null || doc === undefined) return;
  const known = new Map(OPTIONS.map((o) => [o.key, o]));
  for (const [key, raw] of flatten(doc, '')) {
    const spec = known.get(key);
    if (spec === undefined) {
      problems.push(`${file}: unknown setting "${key}"`);
    } else if (specs.includes(spec)) {
      setChecked(spec, raw, `${file}: ${key}`, values as Map<string, number | string | string[] | boolean>, problems);
    }
  }
}

/** Flattens nested YAML maps to dotted keys; lists are values. */
function flatten(doc: unknown, prefix: string): [string, unknown][] {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return [[prefix, doc]];
  return Object.entries(doc).flatMap(([k, v]) => {
    const key = prefix ? `${prefix}.${k}` : k;
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? flatten(v, key) : [[key, v] as [string, unknown]];
  });
}

function setChecked(
  o: OptionSpec, raw: unknown, where: string, values: Map<string, number | string | string[] | boolean>, problems: string[],
): void {
  const result = coerce(o, raw);
  if (typeof result === 'object' && result !== null && 'problem' in result) {
    problems.push(`${where}: ${result.problem}`);
  } else {
    values.set(o.key, result);
  }
}

function coerce(o: OptionSpec, raw: unknown): number | string | string[] | boolean | { problem: string } {
  switch (o.kind) {
    case 'int': {
      const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^-?\d+$/.test(raw.trim()) ? Number(raw) : NaN;
      if (!Number.isInteger(n)) return { problem: `must be an integer, got ${JSON.stringify(raw)}` };
      if (o.min !== undefined && n < o.min) return { problem: `must be at least ${o.min}, got ${n}` };
      if (o.max !== undefined && n > o.max) return { problem: `must be at most ${o.max}, got ${n}` };
      return n;
    }
    case 'bool':
      if (typeof raw === 'boolean') return raw;
      if (raw === 'true' || raw === '1') return true;
      if (raw === 'false' || raw === '0') return false;
      return { problem: `must be true or false, got ${JSON.stringify(raw)}` };
    case 'list': {
      const items = Array.isArray(raw) ? raw : typeof raw === 'string' ? raw.split(',') : null;
      if (items === null || !items.every((s) => typeof s === 'string' && s.trim() !== '')) {
        return { problem: 'must be a list of non-empty names' };
      }
      return items.map((s: string) => s.trim());
    }
    case 'enum':
      if (typeof raw !== 'string' || !o.values?.includes(raw)) {
        return { problem: `must be one of ${o.values?.join(', ')}, got ${JSON.stringify(raw)}` };
      }
      return raw;
    case 'url':
      if (raw === '' || raw === null) return '';
      if (typeof raw !== 'string' || !/^(mqtts?|wss?|tcp):\/\/[^\s/]+/.test(raw)) {
        return { problem: `must be a URL such as mqtt://127.0.0.1:1883, got ${JSON.stringify(raw)}` };
      }
      return raw;
    case 'string':
      if (typeof raw !== 'string' || raw.trim() === '') return { problem: `must be a non-empty string` };
      return raw;
  }
}

/** The --help text of a command, read off the option table. */
export function helpText(commands: readonly Command[]): string {
  return OPTIONS.filter((o) => o.for.some((c) => commands.includes(c)))
    .map((o) => {
      const dflt = Array.isArray(o.default) ? o.default.join(',') : String(o.default);
      return `  --${o.flag.padEnd(24)} ${o.help}\n  ${''.padEnd(26)} default ${dflt === '' ? '(none)' : dflt}; env ${o.env}; file ${o.key}`;
    })
    .join('\n');
}
