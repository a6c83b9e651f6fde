/**
 * `kilowatch job start|end`: tells the running server that a job started or
 * ended, through its HTTP API (POST /api/v1/jobs, /api/v1/jobs/{id}/end), so
 * a Slurm prolog and epilog can report jobs (docs/slurm/). It talks HTTP, not
 * the admin socket, because a prolog runs on the GPU node and the server on
 * another machine. The server's URL comes from --server, else from the
 * server's own host and port settings (kilowatch.yaml, KILOWATCH_*).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { layerConfig } from './config-layers.js';

/** A prolog must not hold a job back for long when the server is slow or gone. */
const DEFAULT_TIMEOUT_MS = 10_000;

const USAGE = `usage: kilowatch job start --id <id> --user <user> --project <project> [--partition <p>]
                           --hosts <h1,h2> --gpus <GPU-...,GPU-...> [--start <ms>] [--label key=value ...]
       kilowatch job end --id <id> [--end <ms>]

Reports a job to the running kilowatch server. Hosts are host names, or site/host when
the server owns several sites. Times are ms since the epoch (default: now).

options:
  --server <url>       the server's HTTP URL (default http://<server.host>:<server.port>
                       from kilowatch.yaml, KILOWATCH_HOST and KILOWATCH_PORT)
  --timeout-ms <ms>    give up after this long (default ${DEFAULT_TIMEOUT_MS})
  --token-file <file>  a file holding an operator token, when the server runs with --auth tokens
                       (or the token itself in KILOWATCH_TOKEN)
  --config <file>      settings file for the default URL (default ./kilowatch.yaml)

Exit status: 0 when the server stored the event, 1 when it refused it or could not be
reached (its reason is printed), 2 for a usage error.`;

interface Out {
  log: (line: string) => void;
  error: (line: string) => void;
}

const FLAGS = {
  id: { type: 'string' }, user: { type: 'string' }, project: { type: 'string' }, partition: { type: 'string' },
  hosts: { type: 'string' }, gpus: { type: 'string' }, start: { type: 'string' }, end: { type: 'string' },
  label: { type: 'string', multiple: true }, server: { type: 'string' }, 'timeout-ms': { type: 'string' }, 'token-file': { type: 'string' },
  config: { type: 'string' }, help: { type: 'boolean', short: 'h' },
} as const;

function list(v: string | undefined): string[] | undefined {
  return v === undefined ? undefined : v.split(',').map((s) => s.trim()).filter((s) => s !== '');
}

/** The server's own bind address is where a local client finds it; a wildcard address is reached on loopback. */
function defaultServer(config: string | undefined, env: Record<string, string | undefined>): { url?: string; problems?: string[] } {
  const layered = layerConfig({ commands: ['server'], argv: config === undefined ? [] : ['--config', config], env, defaultConfigFile: 'kilowatch.yaml' });
  if (!layered.ok) return { problems: layered.problems };
  let host = layered.values.get('server.host') as string;
  if (host === '0.0.0.0' || host === '') host = '127.0.0.1';
  if (host === '::') host = '::1';
  return { url: `http://${host.includes(':') ? `[${host}]` : host}:${layered.values.get('server.port') as number}` };
}

export async function runJobCommand(argv: string[], env: Record<string, string | undefined>, out: Out): Promise<number> {
  const [action, ...rest] = argv;
  if (action === '--help' || action === '-h') return out.log(USAGE), 0;
  if (action !== 'start' && action !== 'end') return out.error(`kilowatch: job needs start or end\n\n${USAGE}`), 2;
  let v: ReturnType<typeof parseArgs<{ args: string[]; options: typeof FLAGS; strict: true }>>['values'];
  try {
    v = parseArgs({ args: rest, options: FLAGS, strict: true, allowPositionals: false }).values;
  } catch (err) {
    return out.error(`kilowatch: ${(err as Error).message}\n\n${USAGE}`), 2;
  }
  if (v.help) return out.log(USAGE), 0;

  const problems: string[] = [];
  const need = action === 'start' ? (['id', 'user', 'project', 'hosts', 'gpus'] as const) : (['id'] as const);
  for (const k of need) if (!v[k]) problems.push(`--${k} is required for job ${action}`);
  const allowed = action === 'start' ? ['start', 'partition', 'label'] : ['end'];
  for (const k of ['start', 'end', 'partition', 'label', 'user', 'project', 'hosts', 'gpus'] as const) {
    if (v[k] !== undefined && !allowed.includes(k) && !(need as readonly string[]).includes(k)) problems.push(`--${k} is not an option of job ${action}`);
  }
  const ms = (k: 'start' | 'end' | 'timeout-ms') => {
    const raw = v[k];
    if (raw === undefined) return undefined;
    if (!/^\d+$/.test(raw)) problems.push(`--${k} must be an integer number of ms, got "${raw}"`);
    return Number(raw);
  };
  const start = ms('start');
  const end = ms('end');
  const timeoutMs = ms('timeout-ms') ?? DEFAULT_TIMEOUT_MS;
  const labels: Record<string, string> = {};
  for (const l of v.label ?? []) {
    const eq = l.indexOf('=');
    if (eq <= 0) problems.push(`--label must be key=value, got "${l}"`);
    else labels[l.slice(0, eq)] = l.slice(eq + 1);
  }
  const server = v.server === undefined ? defaultServer(v.config, env) : { url: v.server.replace(/\/+$/, '') };
  if (server.problems) problems.push(...server.problems.map((p) => `for the default --server: ${p}`));
  else if (!/^https?:\/\/\S+$/.test(server.url!)) problems.push(`--server must be an http:// or https:// URL, got "${server.url}"`);
  if (problems.length > 0) return out.error(`kilowatch: job ${action}:\n${problems.map((p) => `  - ${p}`).join('\n')}`), 2;

  const id = v.id!;
  const [path, body] = action === 'start'
    ? ['/api/v1/jobs', {
      id, user: v.user, project: v.project, hosts: list(v.hosts), gpus: list(v.gpus),
      ...(v.partition !== undefined && { partition: v.partition }),
      ...(start !== undefined && { start }),
      ...(Object.keys(labels).length > 0 && { labels }),
    }]
    : [`/api/v1/jobs/${encodeURIComponent(id)}/end`, end === undefined ? {} : { end }];
  // A token on the command line would be visible to every user in `ps`: it comes from a file or the environment.
  let token = env.KILOWATCH_TOKEN;
  if (v['token-file'] !== undefined) {
    try {
      token = readFileSync(v['token-file'], 'utf8').trim();
    } catch (err) {
      return out.error(`kilowatch: job ${action}: cannot read --token-file: ${(err as Error).message}`), 2;
    }
  }
  return send(`${server.url}${path}`, body, timeoutMs, action, id, out, token);
}

async function send(url: string, body: unknown, timeoutMs: number, action: string, id: string, out: Out, token: string | undefined): Promise<number> {
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST', headers: { 'content-type': 'application/json', ...(token && { authorization: `Bearer ${token}` }) }, body: JSON.stringify(body), signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    const e = err as Error & { cause?: { code?: string; message?: string } };
    const why = e.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : e.cause?.code ?? e.cause?.message ?? e.message;
    return out.error(`kilowatch: job ${action} ${id}: cannot reach the kilowatch server at ${url} (${why})`), 1;
  }
  const text = await res.text();
  let answer: Record<string, unknown> = {};
  try {
    answer = JSON.parse(text) as Record<string, unknown>;
  } catch {
    answer = { error: text.slice(0, 500) };
  }
  if (!res.ok) {
    const problems = Array.isArray(answer.problems) ? (answer.problems as unknown[]).map((p) => `\n  - ${String(p)}`).join('') : '';
    return out.error(`kilowatch: job ${action} ${id}: the server answered ${res.status}: ${String(answer.error ?? res.statusText)}${problems}`), 1;
  }
  const hosts = Array.isArray(answer.hosts) ? answer.hosts.length : '?';
  const when = action === 'start' ? `started at ${new Date(Number(answer.start)).toISOString()}` : `ended at ${new Date(Number(answer.end)).toISOString()}`;
  out.log(`kilowatch: job ${id} ${when} on ${hosts} host(s), ${String(answer.gpus)} GPU(s)${res.status === 200 && action === 'start' ? ' (already known; merged)' : ''}`);
  return 0;
}
