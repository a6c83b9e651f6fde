/**
 * Token management on the admin socket (`kilowatch token create|revoke|list`):
 * the socket is the server's own file, mode 0600, so whoever can use it
 * already owns the installation. That is also how the first admin token of
 * a new installation is made.
 */
import { readFileSync } from 'node:fs';
import type { AdminHandler } from '../admin/admin-socket.js';
import { OperatorError } from '../operator-error.js';
import type { Authenticator } from './authenticator.js';
import { MQTT_ROLES, type MqttRole } from './mqtt-acl.js';
import { isRole } from './principal.js';
import type { TokenStore } from './token-store.js';

const NAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;

/** Where token changes are recorded (the audit log): never the secret, only who, when and what. */
export type AuditSink = (entry: { ts: number; kind: 'token_create' | 'token_revoke'; key: string; data: unknown; actor: string }) => void;

export function tokenCommands(tokens: TokenStore, auth: Authenticator, now: () => number, audit: AuditSink = () => undefined): Record<string, AdminHandler> {
  return {
    'token-create': async (req) => {
      const { name, role, projects } = req;
      if (typeof name !== 'string' || !NAME.test(name)) throw new Error('--name must be 1-64 letters, digits, ".", "_", "@" or "-"');
      if (req.mqtt !== undefined) {
        const made = mqttCredential(tokens, name, req, now());
        audit({ ts: now(), kind: 'token_create', key: String(made.id), data: { name, mqtt: made.mqtt }, actor: 'admin socket' });
        return made;
      }
      if (!isRole(role)) throw new Error('--role must be viewer, operator or admin');
      const list = projects === undefined ? undefined : Array.isArray(projects) && projects.every((p) => typeof p === 'string' && p !== '') ? (projects as string[]) : null;
      if (list === null) throw new Error('--projects must be a comma-separated list of project names');
      if (list && role !== 'viewer') throw new Error('only a viewer can be scoped to projects');
      const { record, token } = tokens.create(name, role, list, now());
      audit({ ts: now(), kind: 'token_create', key: record.id, data: { name, role, ...(record.projects && { projects: record.projects }) }, actor: 'admin socket' });
      return { id: record.id, name: record.name, role: record.role, ...(record.projects && { projects: record.projects }), token };
    },
    'token-revoke': async (req) => {
      const r = tokens.revoke(String(req.id ?? ''), now());
      if (!r) throw new Error(`no active token ${JSON.stringify(req.id)} (give its id or name)`);
      auth.dropSessionsOf(r.name);
      audit({ ts: now(), kind: 'token_revoke', key: r.id, data: { name: r.name }, actor: 'admin socket' });
      return { revoked: r.id, name: r.name };
    },
    'token-list': async () => ({ tokens: tokens.list() }),
  };
}

/** An MQTT credential of the embedded broker: a collector or an app for one host, or a meter for its vendor topics. */
function mqttCredential(tokens: TokenStore, name: string, req: Record<string, unknown>, now: number): Record<string, unknown> {
  const role = req.mqtt;
  if (!(MQTT_ROLES as readonly unknown[]).includes(role)) throw new Error(`--mqtt must be ${MQTT_ROLES.join(', ')}`);
  const site = typeof req.site === 'string' && req.site !== '' ? req.site : undefined;
  const host = typeof req.host === 'string' && req.host !== '' ? req.host : undefined;
  const topics = Array.isArray(req.topics) ? (req.topics as unknown[]).filter((t): t is string => typeof t === 'string' && t !== '') : [];
  if (role !== 'meter' && (!site || !host)) throw new Error(`an MQTT ${String(role)} credential needs --site and --host: it may publish only as that host`);
  if (role === 'meter' && topics.length === 0) throw new Error('an MQTT meter credential needs --topics, its vendor topic filters (e.g. tele/plug-7/#,cmnd/plug-7/#)');
  const mqtt = { role: role as MqttRole, ...(site && { site }), ...(host && { host }), ...(topics.length > 0 && { topics }) };
  const { record, token } = tokens.create(name, 'viewer', undefined, now, mqtt);
  return { id: record.id, name: record.name, mqtt, token };
}

export function readTls(certFile: string, keyFile: string): { cert: Buffer; key: Buffer } {
  try {
    return { cert: readFileSync(certFile), key: readFileSync(keyFile) };
  } catch (err) {
    throw new OperatorError(`server.tls_cert/tls_key: cannot read ${(err as Error).message}`);
  }
}
