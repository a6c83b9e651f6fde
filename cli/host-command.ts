/**
 * `kilowatch host forget <site>/<host>`: a decommissioned host leaves the
 * server's views, and its retained `status` and `info` are cleared on the
 * broker, so it does not come back as "offline" at every server start. Goes
 * through the running server's admin socket (it holds the broker connection).
 */
import { parseArgs } from 'node:util';
import { adminCall } from './admin-call.js';

const USAGE = `usage: kilowatch host forget <site>/<host> [--data-dir <dir>] [--config <file>]

Clears a decommissioned host's retained status and info on the broker and removes it from
the running server's live views and alerts. Its stored history stays. A host that reports
again comes back.

Exit status: 0 when forgotten, 1 when the server refused or is not running, 2 for a usage error.`;

export async function runHostCommand(argv: string[], env: NodeJS.ProcessEnv, out: { log: (l: string) => void; error: (l: string) => void }): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: { 'data-dir': { type: 'string' }, config: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
  } catch (err) {
    return out.error(`kilowatch host: ${(err as Error).message}\n\n${USAGE}`), 2;
  }
  if (parsed.values.help) return out.log(USAGE), 0;
  const [sub, name] = parsed.positionals;
  const slash = name?.indexOf('/') ?? -1;
  if (sub !== 'forget' || name === undefined || slash <= 0 || slash === name.length - 1) return out.error(`kilowatch host: expected forget <site>/<host>\n\n${USAGE}`), 2;
  const r = await adminCall(parsed.values, env, { cmd: 'host-forget', site: name.slice(0, slash), host: name.slice(slash + 1) });
  if (!r.ok) return out.error(`kilowatch host forget: ${r.error}`), r.code;
  out.log(`kilowatch: forgot ${String(r.answer.forgotten)}: its retained status and info are cleared`);
  return 0;
}
