/**
 * A strict reader of the Prometheus text exposition format 0.0.4, for tests:
 * it throws on anything the format does not allow (an unknown escape, a
 * sample before its TYPE, a family split in two, a repeated series, a bad
 * name or number), where Prometheus itself would fail the scrape.
 */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Scrape {
  types: Map<string, string>;
  help: Map<string, string>;
  samples: Sample[];
}

const METRIC = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

function parseValue(s: string, line: string): number {
  if (s === 'NaN') return NaN;
  if (s === '+Inf' || s === 'Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s)) throw new Error(`bad value "${s}" in: ${line}`);
  return Number(s);
}

/** Reads `{a="x",b="y"}` from position i (just after `{`); returns the labels and the index after `}`. */
function parseLabels(line: string, i: number): [Record<string, string>, number] {
  const labels: Record<string, string> = {};
  while (line[i] !== '}') {
    const eq = line.indexOf('=', i);
    if (eq < 0) throw new Error(`label without "=": ${line}`);
    const name = line.slice(i, eq);
    if (!LABEL.test(name)) throw new Error(`bad label name "${name}": ${line}`);
    if (name in labels) throw new Error(`label "${name}" twice: ${line}`);
    if (line[eq + 1] !== '"') throw new Error(`label value not quoted: ${line}`);
    let v = '';
    let j = eq + 2;
    for (;;) {
      const c = line[j];
      if (c === undefined) throw new Error(`unterminated label value: ${line}`);
      if (c === '"') break;
      if (c === '\\') {
        const e = line[j + 1];
        if (e === '\\') v += '\\';
        else if (e === '"') v += '"';
        else if (e === 'n') v += '\n';
        else throw new Error(`bad escape "\\${e}" in: ${line}`);
        j += 2;
      } else {
        v += c;
        j += 1;
      }
    }
    labels[name] = v;
    i = j + 1;
    if (line[i] === ',') i += 1;
    else if (line[i] !== '}') throw new Error(`expected "," or "}" after a label: ${line}`);
  }
  return [labels, i + 1];
}

export function parsePrometheusText(text: string): Scrape {
  if (!text.endsWith('\n')) throw new Error('the exposition must end with a newline');
  const types = new Map<string, string>();
  const help = new Map<string, string>();
  const samples: Sample[] = [];
  const seen = new Set<string>();
  const closed = new Set<string>();
  let current: string | undefined;
  for (const line of text.slice(0, -1).split('\n')) {
    if (line === '') continue;
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
      if (!m) continue; // a plain comment
      const [, kind, name, rest] = m as unknown as [string, string, string, string];
      if (!METRIC.test(name)) throw new Error(`bad metric name "${name}"`);
      if (closed.has(name) || (current !== name && (types.has(name) || help.has(name)))) throw new Error(`family ${name} appears twice`);
      if (current !== undefined && current !== name) closed.add(current);
      current = name;
      if (kind === 'TYPE') {
        if (types.has(name)) throw new Error(`two TYPE lines for ${name}`);
        if (!TYPES.has(rest)) throw new Error(`bad type "${rest}" for ${name}`);
        if (samples.some((s) => s.name === name)) throw new Error(`TYPE of ${name} after its samples`);
        types.set(name, rest);
      } else {
        if (help.has(name)) throw new Error(`two HELP lines for ${name}`);
        if (/\\[^\\n]/.test(rest.replace(/\\\\/g, ''))) throw new Error(`bad escape in HELP of ${name}`);
        help.set(name, rest.replace(/\\(\\|n)/g, (_, e: string) => (e === 'n' ? '\n' : '\\')));
      }
      continue;
    }
    const nameEnd = line.search(/[{ ]/);
    if (nameEnd <= 0) throw new Error(`not a sample: ${line}`);
    const name = line.slice(0, nameEnd);
    if (!METRIC.test(name)) throw new Error(`bad metric name "${name}"`);
    let labels: Record<string, string> = {};
    let i = nameEnd;
    if (line[i] === '{') [labels, i] = parseLabels(line, i + 1);
    if (line[i] !== ' ') throw new Error(`expected a space before the value: ${line}`);
    const parts = line.slice(i + 1).split(' ');
    if (parts.length > 2) throw new Error(`trailing text: ${line}`);
    if (parts[1] !== undefined && !/^-?\d+$/.test(parts[1])) throw new Error(`bad timestamp: ${line}`);
    const value = parseValue(parts[0]!, line);
    if (closed.has(name) || (current !== undefined && current !== name && types.has(name))) throw new Error(`samples of ${name} are not together`);
    if (!types.has(name)) throw new Error(`sample of ${name} before its TYPE`);
    const key = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
    if (seen.has(key)) throw new Error(`series repeated: ${line}`);
    seen.add(key);
    samples.push({ name, labels, value });
  }
  return { types, help, samples };
}

/** The value of one series, or undefined. */
export function valueOf(s: Scrape, name: string, labels: Record<string, string> = {}): number | undefined {
  return s.samples.find((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v))?.value;
}
