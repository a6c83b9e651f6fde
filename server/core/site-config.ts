/**
 * The site file (`--site-config site.yaml`): groups of hosts with the meters
 * that measure them, and the power sources with capacity, tariff and carbon
 * intensity (ARCHITECTURE.md §4, "Per group" and "Per power source").
 * Validated once, with every problem listed, then frozen. Pure: the caller
 * reads the file (and a carbon CSV) and hands over the text.
 *
 *   groups:
 *     - { name: rack-a, kind: rack, parent: row-1, hosts: [node-01, node-02], meters: [node-01/rack-a-pdu] }
 *   power_sources:
 *     - name: grid
 *       kind: grid                      # grid | solar | fuel_cell | smr | battery
 *       capacity_kw: 400
 *       tariff: { per_kwh: 0.21 }       # or { per_kwh: 0.15, periods: [{ from: "07:00", to: "22:00", per_kwh: 0.28 }] }
 *       carbon: { g_per_kwh: 380 }      # or { csv: grid-carbon.csv } (hourly: iso_hour,g_per_kwh)
 *       meter: node-01/grid-main        # optional; a source without one takes its static `share`
 *       share: 0.8
 */
type Obj = Record<string, unknown>;
const isObject = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

export const SOURCE_KINDS = ['grid', 'solar', 'fuel_cell', 'smr', 'battery'] as const;
export type SourceKind = (typeof SOURCE_KINDS)[number];

export interface GroupConfig {
  name: string;
  kind: string;
  parent?: string;
  /** `host` or `site/host`. */
  hosts: string[];
  /** Meter streams, `host/meter`. */
  meters: string[];
}

export interface TouPeriod {
  /** Minutes after local midnight, [from, to); to may wrap past midnight. */
  from: number;
  to: number;
  per_kwh: number;
}

export interface SourceConfig {
  name: string;
  kind: SourceKind;
  capacity_kw: number;
  tariff: { per_kwh: number; periods: TouPeriod[] };
  /** Static intensity, or an hourly series (hour start ms -> g/kWh) with the static value as its fallback. */
  carbon: { g_per_kwh: number; hourly?: ReadonlyMap<number, number> };
  meter?: string;
  share?: number;
}

export interface SiteConfig {
  groups: GroupConfig[];
  sources: SourceConfig[];
  currency: string;
}

export type SiteConfigResult = { ok: true; config: SiteConfig } | { ok: false; problems: string[] };

const clock = (raw: unknown): number | undefined => {
  const m = typeof raw === 'string' ? /^([01]\d|2[0-3]):([0-5]\d)$/.exec(raw) : null;
  return m ? Number(m[1]) * 60 + Number(m[2]) : raw === '24:00' ? 1440 : undefined;
};

/** Reads `iso_hour,g_per_kwh` lines (a header line is skipped); every bad line is a problem. */
export function parseCarbonCsv(text: string, source: string, problems: string[]): Map<number, number> {
  const out = new Map<number, number>();
  text.split('\n').forEach((line, i) => {
    const l = line.trim();
    if (l === '' || (i === 0 && !/^\d/.test(l))) return;
    const [when, value] = l.split(',').map((x) => x.trim());
    const ms = Date.parse(when ?? '');
    const g = Number(value);
    if (!Number.isFinite(ms) || ms % 3_600_000 !== 0 || !Number.isFinite(g) || g < 0) problems.push(`${source}:${i + 1}: expected "<ISO hour>,<gCO2e/kWh>", got ${JSON.stringify(l.slice(0, 60))}`);
    else out.set(ms, g);
  });
  return out;
}

function group(raw: unknown, at: string, problems: string[]): GroupConfig | undefined {
  if (!isObject(raw)) return void problems.push(`${at} must be a map`);
  const list = (k: string) => (raw[k] === undefined ? [] : Array.isArray(raw[k]) && (raw[k] as unknown[]).every((x) => typeof x === 'string' && x !== '') ? (raw[k] as string[]) : void problems.push(`${at}.${k} must be a list of names`));
  if (typeof raw.name !== 'string' || raw.name === '') problems.push(`${at}.name is required`);
  const hosts = list('hosts');
  const meters = list('meters');
  if (typeof raw.name !== 'string' || !hosts || !meters) return undefined;
  return { name: raw.name, kind: typeof raw.kind === 'string' ? raw.kind : 'group', ...(typeof raw.parent === 'string' && { parent: raw.parent }), hosts, meters };
}

function source(raw: unknown, at: string, problems: string[], readFile: (path: string) => string | undefined): SourceConfig | undefined {
  if (!isObject(raw)) return void problems.push(`${at} must be a map`);
  const before = problems.length;
  const name = typeof raw.name === 'string' && raw.name !== '' ? raw.name : void problems.push(`${at}.name is required`);
  const kind = SOURCE_KINDS.includes(raw.kind as SourceKind) ? (raw.kind as SourceKind) : void problems.push(`${at}.kind must be one of ${SOURCE_KINDS.join(', ')}`);
  const capacity = typeof raw.capacity_kw === 'number' && raw.capacity_kw > 0 ? raw.capacity_kw : void problems.push(`${at}.capacity_kw must be a positive number`);
  const tariffRaw = isObject(raw.tariff) ? raw.tariff : {};
  const perKwh = typeof tariffRaw.per_kwh === 'number' && tariffRaw.per_kwh >= 0 ? tariffRaw.per_kwh : void problems.push(`${at}.tariff.per_kwh must be a price per kWh (0 or more)`);
  const periods: TouPeriod[] = [];
  if (tariffRaw.periods !== undefined) {
    (Array.isArray(tariffRaw.periods) ? tariffRaw.periods : [null]).forEach((p: unknown, i) => {
      const from = isObject(p) ? clock(p.from) : undefined;
      const to = isObject(p) ? clock(p.to) : undefined;
      const price = isObject(p) && typeof p.per_kwh === 'number' && p.per_kwh >= 0 ? p.per_kwh : undefined;
      if (from === undefined || to === undefined || price === undefined || from === to) problems.push(`${at}.tariff.periods[${i}] needs from and to as HH:MM (different) and per_kwh`);
      else periods.push({ from, to, per_kwh: price });
    });
  }
  const carbonRaw = isObject(raw.carbon) ? raw.carbon : {};
  const g = typeof carbonRaw.g_per_kwh === 'number' && carbonRaw.g_per_kwh >= 0 ? carbonRaw.g_per_kwh : typeof carbonRaw.csv === 'string' ? 0 : void problems.push(`${at}.carbon needs g_per_kwh or csv`);
  let hourly: Map<number, number> | undefined;
  if (typeof carbonRaw.csv === 'string') {
    const text = readFile(carbonRaw.csv);
    if (text === undefined) problems.push(`${at}.carbon.csv: cannot read ${carbonRaw.csv}`);
    else hourly = parseCarbonCsv(text, carbonRaw.csv, problems);
  }
  const share = raw.share === undefined ? undefined : typeof raw.share === 'number' && raw.share >= 0 && raw.share <= 1 ? raw.share : void problems.push(`${at}.share must be between 0 and 1`);
  if (raw.meter !== undefined && (typeof raw.meter !== 'string' || !raw.meter.includes('/'))) problems.push(`${at}.meter must name a meter stream as host/meter`);
  if (problems.length > before) return undefined;
  return {
    name: name!, kind: kind!, capacity_kw: capacity!,
    tariff: { per_kwh: perKwh!, periods },
    carbon: hourly ? { g_per_kwh: g!, hourly } : { g_per_kwh: g! },
    ...(typeof raw.meter === 'string' && { meter: raw.meter }),
    ...(share !== undefined && { share }),
  };
}

export function parseSiteConfig(doc: unknown, file: string, readFile: (path: string) => string | undefined): SiteConfigResult {
  const problems: string[] = [];
  if (!isObject(doc)) return { ok: false, problems: [`${file}: expected a map with groups and power_sources`] };
  const groups = (Array.isArray(doc.groups) ? doc.groups : doc.groups === undefined ? [] : [null]).map((g: unknown, i: number) => group(g, `${file}: groups[${i}]`, problems));
  const sources = (Array.isArray(doc.power_sources) ? doc.power_sources : doc.power_sources === undefined ? [] : [null]).map((s: unknown, i: number) => source(s, `${file}: power_sources[${i}]`, problems, readFile));
  const names = new Set<string>();
  for (const g of groups) {
    if (g && names.has(g.name)) problems.push(`${file}: group ${g.name} is declared twice`);
    if (g) names.add(g.name);
  }
  for (const g of groups) if (g?.parent && !names.has(g.parent)) problems.push(`${file}: group ${g.name} has parent ${g.parent}, which is not declared`);
  const unmetered = sources.filter((s) => s && !s.meter);
  const shares = unmetered.reduce((a, s) => a + (s?.share ?? 0), 0);
  if (unmetered.length > 0 && sources.every((s) => !s?.meter) && Math.abs(shares - 1) > 1e-6) problems.push(`${file}: without metered sources the shares must add up to 1 (they add up to ${shares})`);
  const currency = typeof doc.currency === 'string' ? doc.currency : 'EUR';
  if (problems.length > 0) return { ok: false, problems };
  return { ok: true, config: { groups: groups as GroupConfig[], sources: sources as SourceConfig[], currency } };
}
