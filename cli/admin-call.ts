/**
 * One request to the running server's admin socket, found through the same
 * settings as the server's (--data-dir, --config, KILOWATCH_DATA_DIR), with
 * the answer or a reason an operator can act on. Shared by the commands that
 * must go through the server: token, host forget.
 */
import { adminRequest, adminSocketPath } from '../server/admin/admin-socket.js';
import { serverConfig } from '../server/config.js';
import { layerConfig } from './config-layers.js';

export async function adminCall(
  flags: { 'data-dir'?: string; config?: string },
  env: NodeJS.ProcessEnv,
  request: Record<string, unknown>,
): Promise<{ ok: true; answer: Record<string, unknown> } | { ok: false; code: 1 | 2; error: string }> {
  const argv = [...(flags['data-dir'] ? ['--data-dir', flags['data-dir']] : []), ...(flags.config ? ['--config', flags.config] : [])];
  const layered = layerConfig({ commands: ['server'], argv, env, defaultConfigFile: 'kilowatch.yaml' });
  if (!layered.ok) return { ok: false, code: 2, error: layered.problems.join('; ') };
  const socket = adminSocketPath(serverConfig(layered.values).dataDir);
  let answer: Record<string, unknown>;
  try {
    answer = await adminRequest(socket, request, 10_000);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' || code === 'ECONNREFUSED' ? `no kilowatch server is running with this data dir (admin socket ${socket}); start it first` : (err as Error).message;
    return { ok: false, code: 1, error: why };
  }
  return answer.ok === true ? { ok: true, answer } : { ok: false, code: 1, error: String(answer.error) };
}
