/**
 * The live WebSocket endpoint, /api/v1/live (protocol/ws.ts). A subscriber to
 * the fleet view gets the schema, the whole in-memory history, then at every
 * tick (100 ms: at most 10 frames a second) the buckets that changed, the
 * newest still filling (its coverage says how full), and once a second the
 * summary. Host, GPU and job views (entity-subscriptions.ts) get a backfill
 * from the store, then the rows of arriving windows at the same ticks.
 * Alerts go out at once. A client whose socket buffer is over the bound
 * skips frames (counted) and gets whole views again once it drains; one that
 * stays behind too long is closed with a reason. Nothing per client grows
 * without bound.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import { type ClientMessage, FLEET_COLUMNS, type FleetSummary, type ServerMessage, type WsAlert, type WsAlertEvent } from '../../protocol/ws.js';
import { LOCAL, type Principal, seesAlertTarget } from '../auth/principal.js';
import type { LiveState } from '../core/live-state.js';
import type { GpuWindow } from '../../protocol/payloads.js';
import { type EntityDeps, EntitySubscriptions } from './entity-subscriptions.js';

export interface LiveHubOptions {
  tickMs: number;
  /** Frames are skipped while a client's unsent bytes exceed this. */
  maxBufferedBytes: number;
  /** A client behind for longer than this is disconnected. */
  maxBehindMs: number;
  /** Summaries go out this often (the tick is faster: it carries the deltas). */
  summaryMs: number;
  now: () => number;
  /** The store's state for the summary, so the UI shows an outage while it lasts. */
  storeStatus?: () => { degraded: boolean; reason: string | null };
  /** The active alerts, for a client subscribing to the `alerts` view. */
  activeAlerts?: () => WsAlert[];
  /** The store, for host, GPU and job views; given the caller, since a scoped viewer may not see every job. */
  entities?: (principal: Principal) => EntityDeps;
}

interface Client {
  ws: WebSocket;
  /** Who it is: a scoped viewer sees only its projects' alerts. */
  principal: Principal;
  fleet: boolean;
  alerts: boolean;
  /** An alert frame was skipped: the whole list goes out once the socket drains. */
  alertsStale: boolean;
  needsReplace: boolean;
  behindSince?: number;
  alive: boolean;
  entities?: EntitySubscriptions;
}

export class LiveHub {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: 4096 });
  private readonly clients = new Set<Client>();
  private timer: NodeJS.Timeout | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private lastSummaryAt = -Infinity;
  framesSkipped = 0;
  disconnectedSlow = 0;

  constructor(
    private readonly live: LiveState,
    private readonly opts: LiveHubOptions,
  ) {}

  start(): void {
    this.timer = setInterval(() => this.tick(), this.opts.tickMs);
    // Heartbeats keep proxies from closing idle sockets and find dead peers.
    this.heartbeat = setInterval(() => {
      for (const c of this.clients) {
        if (!c.alive) c.ws.terminate();
        else {
          c.alive = false;
          c.ws.ping();
        }
      }
    }, 15_000);
  }

  /** The HTTP server authenticated the upgrade (http-server.ts) and says who it is. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, principal: Principal = LOCAL): void {
    this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws, principal));
  }

  private accept(ws: WebSocket, principal: Principal): void {
    const client: Client = { ws, principal, fleet: false, alerts: false, alertsStale: false, needsReplace: false, alive: true };
    const deps = this.opts.entities?.(principal);
    if (deps) client.entities = new EntitySubscriptions(deps, (msg) => this.send(client, msg));
    this.clients.add(client);
    ws.on('pong', () => (client.alive = true));
    ws.on('close', () => this.clients.delete(client));
    ws.on('error', () => ws.terminate());
    ws.on('message', (data) => this.onMessage(client, data.toString()));
  }

  private onMessage(client: Client, text: string): void {
    let msg: ClientMessage;
    try {
      msg = JSON.parse(text) as ClientMessage;
    } catch {
      return this.send(client, { type: 'error', reason: 'message is not JSON' });
    }
    const views = ['fleet', 'alerts', 'host', 'gpu', 'job', 'group'];
    if (!views.includes(msg?.view) || (msg.type !== 'subscribe' && msg.type !== 'unsubscribe')) {
      return this.send(client, { type: 'error', reason: 'expected {"type":"subscribe"|"unsubscribe","view":"fleet"|"alerts"|"host"|"gpu"|"job"|"group","id"?: string,"since"?: ms}' });
    }
    if (msg.view === 'host' || msg.view === 'gpu' || msg.view === 'job' || msg.view === 'group') {
      if (!client.entities) return this.send(client, { type: 'error', reason: `the ${msg.view} view needs the store`, view: msg.view });
      if (msg.type === 'unsubscribe') return client.entities.unsubscribe(msg.view, msg.id);
      const since = typeof msg.since === 'number' && Number.isFinite(msg.since) ? msg.since : undefined;
      void client.entities.subscribe(msg.view, msg.id, since);
      return;
    }
    if (msg.view === 'alerts') {
      client.alerts = msg.type === 'subscribe';
      if (client.alerts) this.sendAlerts(client);
      return;
    }
    client.fleet = msg.type === 'subscribe';
    if (client.fleet) {
      this.send(client, { type: 'schema', view: 'fleet', columns: [...FLEET_COLUMNS] });
      this.sendFleet(client);
    }
  }

  private sendFleet(client: Client): void {
    const now = this.opts.now();
    const summary = this.summary(now);
    this.send(client, { type: 'data', view: 'fleet', replace: true, columns: this.live.history.columns(summary.hosts) });
    this.send(client, { type: 'summary', view: 'fleet', summary });
    client.needsReplace = false;
  }

  private sendAlerts(client: Client): void {
    this.send(client, { type: 'alerts', view: 'alerts', active: (this.opts.activeAlerts?.() ?? []).filter((a) => seesAlertTarget(client.principal, a.target.label)) });
    client.alertsStale = false;
  }

  /** An alert transition goes out at once to every alerts subscriber that is keeping up; the others get the whole list later. */
  pushAlert(event: WsAlertEvent, active: WsAlert | undefined): void {
    const frame = JSON.stringify({ type: 'alert', view: 'alerts', event, active: active ?? null } satisfies ServerMessage);
    for (const c of this.clients) {
      if (!c.alerts || c.ws.readyState !== WebSocket.OPEN || !seesAlertTarget(c.principal, event.target.label)) continue;
      if (c.ws.bufferedAmount > this.opts.maxBufferedBytes) c.alertsStale = true;
      else c.ws.send(frame);
    }
  }

  private send(client: Client, msg: ServerMessage): void {
    if (client.ws.readyState === WebSocket.OPEN) client.ws.send(JSON.stringify(msg));
  }

  private summary(now: number): FleetSummary {
    const summary = this.live.summary(now);
    return this.opts.storeStatus ? { ...summary, store: this.opts.storeStatus() } : summary;
  }

  /** A live window, for the host, GPU and job views of every client. */
  onWindow(site: string, host: string, w: GpuWindow): void {
    for (const c of this.clients) c.entities?.onWindow(site, host, w);
  }

  tick(): void {
    // Ten times a second: with nobody connected it costs nothing (changed buckets stay marked, bounded by the ring).
    if (this.clients.size === 0) return;
    const now = this.opts.now();
    const changed = this.live.history.takeChanged(this.live.hostCount);
    const delta = (changed[0]?.length ?? 0) > 0 ? JSON.stringify({ type: 'data', view: 'fleet', replace: false, columns: changed } satisfies ServerMessage) : undefined;
    const summaryDue = now - this.lastSummaryAt >= this.opts.summaryMs;
    if (summaryDue) this.lastSummaryAt = now;
    const summaryFrame = summaryDue ? JSON.stringify({ type: 'summary', view: 'fleet', summary: this.summary(now) } satisfies ServerMessage) : undefined;
    for (const c of this.clients) {
      if (c.ws.readyState !== WebSocket.OPEN) continue;
      if (c.ws.bufferedAmount > this.opts.maxBufferedBytes) {
        this.framesSkipped += 1;
        c.needsReplace = c.fleet;
        c.entities?.markStale();
        c.behindSince ??= now;
        if (now - c.behindSince > this.opts.maxBehindMs) {
          this.disconnectedSlow += 1;
          c.ws.close(1013, 'client too slow: live frames could not be delivered');
        }
        continue;
      }
      c.behindSince = undefined;
      if (c.alertsStale) this.sendAlerts(c);
      c.entities?.flush();
      if (!c.fleet) continue;
      if (c.needsReplace) this.sendFleet(c);
      else {
        if (delta) c.ws.send(delta);
        if (summaryFrame) c.ws.send(summaryFrame);
      }
    }
  }

  get clientCount(): number {
    return this.clients.size;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    clearInterval(this.heartbeat);
    for (const c of this.clients) c.ws.close(1001, 'server shutting down');
    // A client that does not answer the close (a frozen tab, a bare socket) must not hold the shutdown: ws waits 30 s.
    const stragglers = setTimeout(() => {
      for (const c of this.clients) c.ws.terminate();
    }, 1000);
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    for (const c of this.clients) c.ws.terminate();
    clearTimeout(stragglers);
  }
}
