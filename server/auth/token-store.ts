/**
 * API tokens, stored hashed in `tokens.json` in the data dir (mode 0600),
 * written atomically by the server only (the CLI asks through the admin
 * socket). A token is `kw_<id>_<secret>`: the id finds the record, and the
 * secret's SHA-256 is compared in constant time. A fast hash suffices,
 * because a secret is 32 random bytes, not a password: there is nothing to
 * guess from a leaked hash that a slow hash would protect.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MqttIdentity } from './mqtt-acl.js';
import { type Principal, type Role, isRole } from './principal.js';

export interface TokenRecord {
  id: string;
  name: string;
  /** The HTTP role; an MQTT credential has none there (it is refused by the API). */
  role: Role;
  projects?: string[];
  /** Set for an MQTT credential of the embedded broker: its name is the username, the token the password. */
  mqtt?: Omit<MqttIdentity, 'name'>;
  /** hex SHA-256 of the secret. */
  hash: string;
  created: number;
  revoked?: number;
}

const TOKEN = /^kw_([a-z0-9]{12})_([A-Za-z0-9_-]{43})$/;
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

export class TokenStore {
  private records: TokenRecord[] = [];
  readonly path: string;

  constructor(dataDir: string) {
    this.path = join(dataDir, 'tokens.json');
  }

  load(): void {
    if (!existsSync(this.path)) return;
    const doc = JSON.parse(readFileSync(this.path, 'utf8')) as { tokens?: unknown };
    if (!Array.isArray(doc.tokens)) throw new Error(`${this.path}: expected {"tokens": [...]}`);
    this.records = doc.tokens.filter((r): r is TokenRecord => typeof r === 'object' && r !== null && typeof (r as TokenRecord).id === 'string' && isRole((r as TokenRecord).role));
  }

  /** Creates a token; the secret is returned once and never stored. */
  create(name: string, role: Role, projects: string[] | undefined, now: number, mqtt?: TokenRecord['mqtt']): { record: TokenRecord; token: string } {
    if (this.records.some((r) => !r.revoked && r.name === name)) throw new Error(`a token named ${name} exists; revoke it first`);
    const id = randomBytes(9).toString('base64url').toLowerCase().replace(/[^a-z0-9]/g, '0').slice(0, 12);
    const secret = randomBytes(32).toString('base64url');
    const record: TokenRecord = { id, name, role, ...(projects && projects.length > 0 && { projects }), ...(mqtt && { mqtt }), hash: sha256(secret), created: now };
    this.records.push(record);
    this.save();
    return { record, token: `kw_${id}_${secret}` };
  }

  revoke(idOrName: string, now: number): TokenRecord | undefined {
    const r = this.records.find((x) => !x.revoked && (x.id === idOrName || x.name === idOrName));
    if (!r) return undefined;
    r.revoked = now;
    this.save();
    return r;
  }

  list(): Omit<TokenRecord, 'hash'>[] {
    return this.records.map(({ hash: _hash, ...rest }) => rest);
  }

  get activeCount(): number {
    return this.records.filter((r) => !r.revoked).length;
  }

  /** An API token: never an MQTT credential, which is meant for a device, not a person. */
  verify(token: string): Principal | undefined {
    const r = this.match(token);
    if (!r || r.mqtt) return undefined;
    return { name: r.name, role: r.role, ...(r.projects && { projects: r.projects }), via: 'token' };
  }

  /** An MQTT credential: the username must be the token's name. */
  verifyMqtt(username: string, password: string): MqttIdentity | undefined {
    const r = this.match(password);
    return r?.mqtt && r.name === username ? { name: r.name, ...r.mqtt } : undefined;
  }

  private match(token: string): TokenRecord | undefined {
    const m = TOKEN.exec(token);
    if (!m) return undefined;
    const r = this.records.find((x) => x.id === m[1] && !x.revoked);
    if (!r) return undefined;
    const want = Buffer.from(r.hash, 'hex');
    const got = Buffer.from(sha256(m[2]!), 'hex');
    return want.length === got.length && timingSafeEqual(want, got) ? r : undefined;
  }

  private save(): void {
    const tmp = `${this.path}.tmp`;
    writeFileSync(tmp, JSON.stringify({ tokens: this.records }, null, 2), { mode: 0o600 });
    chmodSync(tmp, 0o600);
    renameSync(tmp, this.path);
  }
}
