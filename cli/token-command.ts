/**
 * `kilowatch token create|revoke|list`: manages the running server's API
 * tokens through its admin socket in the data dir (mode 0600: only the
 * server's own user can use it). A token is printed once, at creation; the
 * server keeps only its hash.
 */
import { parseArgs } from 'node:util';
import { adminCall } from './admin-call.js';

const USAGE = `usage: kilowatch token create --role viewer|operator|admin --name <name> [--projects <p1,p2>]
       kilowatch token create --mqtt collector|app --name <user> --site <site> --host <host> [--topics <filters>]
       kilowatch token create --mqtt meter --name <user> --topics <vendor topic filters>
       kilowatch token revoke --id <id or name>
       kilowatch token list

Manages the API tokens of the server running with the same --data-dir, through its admin
socket. A viewer may be scoped to projects. The token is printed once; keep it secret.
An --mqtt credential logs in to the embedded broker (username: its name, password: the token):
a collector publishes only as its host and reads its own acks (plus --topics, its meters'),
an app only work counters, a meter only its vendor topics.

options:
  --data-dir <dir>   the server's data dir (default from kilowatch.yaml / KILOWATCH_DATA_DIR)
  --config <file>    settings file (default ./kilowatch.yaml)

Exit status: 0 on success, 1 when the server refused or is not running, 2 for a usage error.`;

interface Out {
  log: (line: string) => void;
  error: (line: string) => void;
}

const split = (s: string) => s.split(',').map((p) => p.trim()).filter(Boolean);

export async function runTokenCommand(argv: string[], env: NodeJS.ProcessEnv, out: Out): Promise<number> {
  const [sub, ...rest] = argv;
  let flags;
  try {
    flags = parseArgs({ args: rest, options: { role: { type: 'string' }, name: { type: 'string' }, projects: { type: 'string' }, mqtt: { type: 'string' }, site: { type: 'string' }, host: { type: 'string' }, topics: { type: 'string' }, id: { type: 'string' }, 'data-dir': { type: 'string' }, config: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, strict: true }).values;
  } catch (err) {
    out.error(`kilowatch token: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (flags.help || sub === '--help' || sub === '-h') return out.log(USAGE), 0;
  const request = sub === 'create'
    ? {
      cmd: 'token-create', role: flags.role, name: flags.name, ...(flags.projects && { projects: split(flags.projects) }),
      ...(flags.mqtt && { mqtt: flags.mqtt, site: flags.site, host: flags.host, topics: split(flags.topics ?? '') }),
    }
    : sub === 'revoke' ? { cmd: 'token-revoke', id: flags.id } : sub === 'list' ? { cmd: 'token-list' } : undefined;
  if (!request) return out.error(`kilowatch token: expected create, revoke or list\n\n${USAGE}`), 2;
  const r = await adminCall(flags, env, request);
  if (!r.ok) return out.error(`kilowatch token: ${r.error}`), r.code;
  const answer = r.answer;
  if (sub === 'create') {
    const what = answer.mqtt ? `MQTT ${(answer.mqtt as { role: string }).role}` : `${answer.role}${answer.projects ? `, projects ${(answer.projects as string[]).join(',')}` : ''}`;
    out.log(`kilowatch: token ${answer.id} for ${answer.name} (${what}). It is shown once:`);
    out.log(String(answer.token));
  } else if (sub === 'revoke') out.log(`kilowatch: revoked token ${answer.revoked} (${answer.name}); its sessions have ended`);
  else for (const t of answer.tokens as { id: string; name: string; role: string; projects?: string[]; mqtt?: { role: string }; created: number; revoked?: number }[]) {
    out.log(`${t.id}  ${t.name.padEnd(20)} ${(t.mqtt ? `mqtt:${t.mqtt.role}` : t.role).padEnd(14)} ${(t.projects ?? ['*']).join(',').padEnd(20)} created ${new Date(t.created).toISOString()}${t.revoked ? `  revoked ${new Date(t.revoked).toISOString()}` : ''}`);
  }
  return 0;
}
