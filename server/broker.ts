/**
 * The embedded MQTT broker (Aedes) that `npm start` uses when no broker URL
 * is configured. It binds to the configured host (127.0.0.1 by default), for
 * collectors on the same machine. Aedes acknowledges a publish before it hands
 * the message on, and keeps retained messages only in memory (§8), which is
 * why durability is acknowledged end to end by kilowatch itself.
 */
import { type AddressInfo, type Server, createServer } from 'node:net';
import { Aedes } from 'aedes';
import { listenOrExplain } from './http/listen.js';

export class EmbeddedBroker {
  private aedes: Aedes | undefined;
  private server: Server | undefined;

  constructor(
    private readonly host: string,
    private readonly port: number,
  ) {}

  /** Returns the broker URL, with the real port when 0 was asked for. */
  async start(): Promise<string> {
    // Client ids such as "kilowatch-<site>-<host>" exceed MQTT 3.1's 23 characters.
    const aedes = await Aedes.createBroker({ maxClientsIdLength: 256, drainTimeout: 30_000, concurrency: 1000 });
    this.aedes = aedes;
    const server = createServer((socket) => aedes.handle(socket));
    this.server = server;
    try {
      await listenOrExplain(server, this.host, this.port, 'embedded MQTT broker', '--mqtt-port or KILOWATCH_MQTT_PORT');
    } catch (err) {
      await this.stop(); // Aedes holds timers that would keep the process alive
      throw err;
    }
    const { port } = server.address() as AddressInfo;
    return `mqtt://${this.host.includes(':') ? `[${this.host}]` : this.host}:${port}`;
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
