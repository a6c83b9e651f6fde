/**
 * The embedded MQTT broker (Aedes) that `npm start` uses when no broker URL
 * is configured. It binds to the configured host (127.0.0.1 by default), for
 * collectors on the same machine. Aedes acknowledges a publish before it hands
 * the message on, and keeps retained messages only in memory (§8), which is
 * why durability is acknowledged end to end by kilowatch itself.
 *
 * With authentication on (--auth tokens), every client logs in with an MQTT
 * credential (`kilowatch token create --mqtt collector ...`: the token's name
 * is the username, the token the password) and may publish and subscribe
 * only where server/auth/mqtt-acl.ts allows; a refusal closes the client's
 * connection (MQTT 3.1.1 gives no other answer to a refused publish) and is
 * counted. The server's own clients use an internal credential made at start.
 */
import { randomBytes } from 'node:crypto';
import { type AddressInfo, type Server, createServer } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { Aedes, type Client } from 'aedes';
import { type MqttIdentity, mayPublish, maySubscribe } from './auth/mqtt-acl.js';
import type { TokenStore } from './auth/token-store.js';
import { listenOrExplain } from './http/listen.js';

export interface BrokerAuth {
  tokens: TokenStore;
  prefix: string;
}

export interface BrokerCounters {
  auth_failed: number;
  publish_refused: number;
  subscribe_refused: number;
}

export class EmbeddedBroker {
  private aedes: Aedes | undefined;
  private server: Server | undefined;
  private readonly identities = new WeakMap<Client, MqttIdentity>();
  /** The server's own credential: random per start, never stored. */
  private readonly internal = { username: 'kilowatch-server', password: randomBytes(24).toString('base64url') };
  readonly counters: BrokerCounters = { auth_failed: 0, publish_refused: 0, subscribe_refused: 0 };

  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly auth?: BrokerAuth,
    private readonly tls?: { cert: Buffer; key: Buffer },
  ) {}

  /** Returns the broker URL, with the real port when 0 was asked for (and no credentials: safe to log). */
  async start(): Promise<string> {
    // Client ids such as "kilowatch-<site>-<host>" exceed MQTT 3.1's 23 characters.
    const aedes = await Aedes.createBroker({ maxClientsIdLength: 256, drainTimeout: 30_000, concurrency: 1000 });
    this.aedes = aedes;
    if (this.auth) this.guard(aedes, this.auth);
    const server = this.tls ? createTlsServer({ cert: this.tls.cert, key: this.tls.key }, (socket) => aedes.handle(socket)) : createServer((socket) => aedes.handle(socket));
    this.server = server;
    try {
      await listenOrExplain(server, this.host, this.port, 'embedded MQTT broker', '--mqtt-port or KILOWATCH_MQTT_PORT');
    } catch (err) {
      await this.stop(); // Aedes holds timers that would keep the process alive
      throw err;
    }
    const { port } = server.address() as AddressInfo;
    return `${this.tls ? 'mqtts' : 'mqtt'}://${this.host.includes(':') ? `[${this.host}]` : this.host}:${port}`;
  }

  /** The URL for the server's own clients (ingest, an all-in-one's collector): with the internal credential when auth is on. */
  internalUrl(url: string): string {
    if (!this.auth) return url;
    const u = new URL(url);
    u.username = this.internal.username;
    u.password = this.internal.password;
    return u.href.replace(/\/$/, '');
  }

  private guard(aedes: Aedes, auth: BrokerAuth): void {
    aedes.authenticate = (client, username, password, done) => {
      const pass = password?.toString('utf8') ?? '';
      const id = username === this.internal.username && pass === this.internal.password
        ? { name: username, role: 'server' as const }
        : auth.tokens.verifyMqtt(username ?? '', pass);
      if (!id) {
        this.counters.auth_failed += 1;
        return done(Object.assign(new Error('bad username or password'), { returnCode: 4 }), false);
      }
      this.identities.set(client, id);
      done(null, true);
    };
    aedes.authorizePublish = (client, packet, done) => {
      // client is null for a Last Will published for a client that is gone: it was checked when it connected.
      const id = client ? this.identities.get(client) : undefined;
      if (client && (!id || !mayPublish(id, packet.topic, auth.prefix))) {
        this.counters.publish_refused += 1;
        return done(new Error(`${id?.name ?? 'unknown'} may not publish to ${packet.topic}`));
      }
      done(null);
    };
    aedes.authorizeSubscribe = (client, sub, done) => {
      const id = this.identities.get(client);
      if (!id || !maySubscribe(id, sub.topic, auth.prefix)) {
        this.counters.subscribe_refused += 1;
        return done(new Error(`${id?.name ?? 'unknown'} may not subscribe to ${sub.topic}`), null);
      }
      done(null, sub);
    };
  }

  async stop(): Promise<void> {
    const aedes = this.aedes;
    const server = this.server;
    if (aedes) await new Promise<void>((resolve) => aedes.close(() => resolve()));
    if (server?.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
    this.aedes = undefined;
    this.server = undefined;
  }
}
