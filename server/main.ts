/**
 * The server's composition root. It starts in order (store, broker, MQTT
 * subscriber, HTTP + WebSocket) and stops in reverse, so the store is the
 * last to close and receives everything that was buffered.
 */
import type { ServerConfig } from './config.js';
import { AdminSocket, adminSocketPath } from './admin/admin-socket.js';
import { EmbeddedBroker } from './broker.js';
import { Facility } from './facility.js';
import { DeliveryLedger } from './core/delivery.js';
import { HostRate } from './core/host-rate.js';
import { type SiteFiles, loadSiteFiles, needsRestart } from './site-files.js';
import { exportRange } from './export.js';
import { hostTopic } from '../protocol/topics.js';
import { LiveState } from './core/live-state.js';
import { RejectLog } from './core/reject-log.js';
import { HttpError, HttpServer } from './http/http-server.js';
import { parseEfficiencyParams, parseJobsParams } from './http/job-params.js';
import { parseSeriesParams } from './http/series-params.js';
import { fleetView, healthView } from './http/views.js';
import { operationsRoutes } from './http/metrics.js';
import { AckPublisher } from './mqtt/ack-publisher.js';
import { IngestClient } from './mqtt/ingest-client.js';
import { Pipeline } from './pipeline.js';
import { CommitWatch, JobsApi } from './rest-jobs.js';
import { DuckDbStore } from './store/duckdb-store.js';
import type { HistoryReader, WindowStore } from './store/store.js';
import { VictoriaStore } from './store/victoria-store.js';
import { type JobsPage, queryEfficiency, queryJobs } from './store/job-queries.js';
import { MAX_BUCKETS, querySeries } from './store/series-query.js';
import { LiveHub } from './ws/live-hub.js';
import type { GpuWindow, MeterWindow } from '../protocol/payloads.js';
import { alertRoutes } from './alerts/alert-routes.js';
import { usageReader } from './alerts/budget-usage.js';
import { AlertService } from './alerts/alert-service.js';
import { isLoopback } from './config.js';
import { redactUrl } from '../cli/redact-url.js';
import { mqttConnectOptions } from '../cli/mqtt-credentials.js';
import { ProcessStats } from '../cli/process-stats.js';
import { Authenticator } from './auth/authenticator.js';
import { TokenStore } from './auth/token-store.js';
import { readTls, tokenCommands } from './auth/admin-tokens.js';

export interface ServerDeps {
  now: () => number;
  log: (line: string) => void;
  version: string;
  webDir: string;
}

export interface RunningServer {
  httpUrl: string;
  /** The broker's URL, safe to log (no credentials). */
  brokerUrl: string;
  /** The same for the server's own clients and an all-in-one's collector: with the internal credential when auth is on. */
  localBrokerUrl: string;
  /** SIGHUP: the settings read again (`next`), the site and alert rules files with them; a bad one is refused whole. */
  reload(next?: ServerConfig): void;
  stop(): Promise<void>;
}

export async function startServer(config: ServerConfig, deps: ServerDeps): Promise<RunningServer> {
  const { now, log } = deps;
  const startedAt = now();
  const stops: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop().catch((err: Error) => log(`server: while stopping: ${err.message}`));
  };

  try {
    // The site file is read before anything starts: its problems stop the start, all of them listed.
    const files = loadSiteFiles(config);
    let sites = files.index;
    const rulesFile = files.rules;
    // Replaced on SIGHUP when the site file changes: every reader goes through this binding.
    let facility: Facility | undefined;
    const ledger = new DeliveryLedger();
    // REST job events wait for their commit before they answer (rest-jobs.ts); the ledger sees every commit as before.
    const commits = new CommitWatch(ledger);
    const common = {
      dataDir: config.dataDir, maxPendingRows: config.storeMaxPendingRows, memoryLimit: config.duckdbMemoryLimit, now, hooks: commits,
      rawDays: config.rawRetentionDays, rollupDays: config.rollupRetentionDays,
    };
    const store: WindowStore & HistoryReader & { backup?: DuckDbStore['backup'] } = config.store === 'victoriametrics'
      // VictoriaMetrics takes the GPU windows; its flush interval is at most 1 s (issue: a live tool).
      ? new VictoriaStore({ ...common, url: config.victoriaUrl, flushMs: Math.min(config.storeFlushMs, 1000) })
      : new DuckDbStore({ ...common, flushMs: config.storeFlushMs });
    await store.start();
    facility = files.site ? new Facility(files.site, config.timeZone, store) : undefined;
    stops.push(() => store.stop());
    // Keep each boot's delivery state at least as long as the longest spool age (§3).
    const keepMs = config.deliveryStateDays * 86_400_000;
    ledger.load(await store.loadDelivery(now() - keepMs));
    // Streams of boots older than that are forgotten hourly, so the ledger stays bounded while the server runs.
    const pruner = setInterval(() => ledger.prune(now() - keepMs), 3_600_000);
    pruner.unref();
    stops.push(async () => clearInterval(pruner));

    // API tokens (hashed, in the data dir) and who may do what; the CLI manages tokens through the admin socket.
    const tokens = new TokenStore(config.dataDir);
    tokens.load();
    const auth = new Authenticator({
      mode: config.auth, proxyHeader: config.authProxyHeader, proxyRoleHeader: config.authProxyRoleHeader, proxyAddresses: config.authProxyAddresses,
      allowedOrigins: config.allowedOrigins, sessionTtlMs: config.sessionHours * 3_600_000, secure: config.tlsCert !== '',
    }, tokens, now);
    if (config.auth === 'tokens' && tokens.activeCount === 0) log(`server: --auth tokens and no token yet: create the first with \`kilowatch token create --role admin --name <you> --data-dir ${config.dataDir}\``);

    // `kilowatch backup` and `kilowatch token` ask the server itself: nobody else may open the DuckDB file while it runs.
    const admin = new AdminSocket(adminSocketPath(config.dataDir), {
      backup: async (req) => {
        if (!store.backup) throw new Error(`backups cover the DuckDB store; with --store ${config.store} back up VictoriaMetrics with its own snapshots`);
        return { ...(await store.backup(String(req.dir))) };
      },
      ...tokenCommands(tokens, auth, now, (entry) => void store.enqueue({ kind: 'alert', key: { site: '', host: '', stream: 'alerts', bootId: '' }, entry, receivedAt: entry.ts })),
    }, log);
    await admin.start();
    stops.push(() => admin.stop());

    let brokerUrl = config.brokerUrl;
    let embeddedBroker: EmbeddedBroker | undefined;
    const embedded = brokerUrl === '';
    if (embedded) {
      // With --auth tokens every MQTT client logs in; off loopback the broker serves TLS (server/config.ts checks it is there).
      const tls = !isLoopback(config.host) && config.tlsCert ? readTls(config.tlsCert, config.tlsKey) : undefined;
      embeddedBroker = new EmbeddedBroker(config.host, config.mqttPort, config.auth === 'tokens' ? { tokens, prefix: config.prefix } : undefined, tls);
      const broker = embeddedBroker;
      brokerUrl = await broker.start();
      stops.push(() => broker.stop());
    }

    const live = new LiveState(config.historyMinutes * 60);
    const rejects = new RejectLog();
    // Older windows than the raw retention would be deleted at once (DuckDB) or dropped silently (VictoriaMetrics): refused instead.
    const policy = { prefix: config.prefix, maxPayloadBytes: config.maxPayloadBytes, maxFutureMs: config.maxFutureMs, maxAgeMs: config.rawRetentionDays * 86_400_000, maxHostRate: config.maxHostRate };
    // Alerts: evaluated on every window the pipeline takes; their state is rebuilt from the store first.
    let hub: LiveHub | undefined;
    let mqtt: IngestClient | undefined;
    const alerts = new AlertService({
      store, site: sites, file: rulesFile, now, log, prefix: config.prefix,
      publishRetained: (topic, payload) => mqtt?.publishRetained(topic, payload) ?? false,
      onEvent: (e, active) => hub?.pushAlert(e, active),
      usage: usageReader(store, () => facility, now), timeZone: config.timeZone,
    });
    await alerts.load();
    stops.push(async () => alerts.stop());
    const observer = {
      gpu: (s: string, h: string, w: GpuWindow, late: boolean) => {
        alerts.onGpuWindow(s, h, w, late);
        hub?.onWindow(s, h, w); // late windows too: their rows upsert the views' history
      },
      meter: (s: string, h: string, m: string, w: MeterWindow, late: boolean) => alerts.onMeterWindow(s, h, m, w, late),
      status: (s: string, h: string, online: boolean) => alerts.onStatus(s, h, online),
    };
    const rate = new HostRate({ perSecond: config.maxHostRate, burst: config.maxHostRate * 20, maxHosts: 100_000 });
    const pipeline = new Pipeline(policy, live, rejects, store, ledger, now, log, observer, rate);
    // `kilowatch host forget`: a decommissioned host's retained status and info are cleared on the broker, and it leaves every view.
    admin.register('host-forget', async (req) => {
      const [site, host] = [String(req.site ?? ''), String(req.host ?? '')];
      if (!live.allHosts().some((h) => h.site === site && h.host === host)) throw new Error(`no host ${site}/${host} is known to this server`);
      const cleared = (['status', 'info'] as const).map((k) => mqtt?.publishRetained(hostTopic(config.prefix, site, host, k), '') ?? false);
      if (cleared.includes(false)) throw new Error('the broker is not connected: nothing was cleared; try again when it is');
      live.forget(site, host);
      alerts.forgetHost(site, host, 'admin socket');
      return { forgotten: `${site}/${host}` };
    });
    mqtt = new IngestClient({ url: embeddedBroker ? embeddedBroker.internalUrl(brokerUrl) : brokerUrl, ...(!embeddedBroker && { connect: mqttConnectOptions(config.mqttAuth) }), prefix: config.prefix, sites: config.sites, onMessage: (t, p) => pipeline.handle(t, p), log });
    await mqtt.start();
    alerts.start();
    const acks = new AckPublisher(ledger, mqtt, config.prefix, config.ackIntervalMs, now);
    acks.start();
    stops.push(async () => {
      // Commit what is buffered and acknowledge it while the broker is still reachable.
      acks.stop();
      await store.flush();
      acks.publishDue();
      await mqtt.stop();
    });

    admin.register('export', async (req) => exportRange(store, facility, String(req.dir), Number(req.from), Number(req.to), now()));
    const storeStatus = () => {
      const st = store.stats(now());
      return { degraded: st.degraded, reason: st.last_error };
    };
    // 100 ms ticks: live views coalesced to at most 10 frames a second per client (issue: live latency).
    const liveHub = new LiveHub(live, {
      tickMs: 100, summaryMs: 1000, maxBufferedBytes: 4 * 1024 * 1024, maxBehindMs: 30_000, now, storeStatus, activeAlerts: () => alerts.view().active,
      entities: (principal) => ({
        store, now,
        groupHosts: (group) => {
          const m = sites.groups.has(group) ? sites.members(group).hosts : undefined;
          // Configured as `host` (any site) or `site/host`: resolved against the hosts known now.
          return m && live.allHosts().filter((h) => m.has(h.host) || m.has(`${h.site}/${h.host}`)).map(({ site, host }) => ({ site, host }));
        },
        jobGpus: async (job) => ((await jobsApi.visible(job, principal)) ? store.jobGpus(job, now()).then((g) => (g.length > 0 ? g : undefined)) : undefined),
      }),
    });
    hub = liveHub;

    const jobsApi = new JobsApi({
      store, live, commits, now, maxFutureMs: config.maxFutureMs, maxAgeMs: policy.maxAgeMs, sites: config.sites,
      price: async (page: JobsPage, from: number, to: number) => (facility ? facility.priceJobs(page, from, to) : page),
    });
    // The process's memory and event-loop delay, over intervals of 5 s that close whoever reads them.
    const processStats = new ProcessStats().closeEvery(5000);
    stops.push(async () => processStats.stop());
    // What /api/v1/health and /metrics are built from, so the two never disagree.
    const healthInputs = () => ({
      now: now(), startedAt, version: deps.version, rejects, pipeline: pipeline.counters, store: store.stats(now()), live,
      delivery: { ...ledger.totals(), acks_sent: acks.sent, acks_unsent: acks.unsent },
      mqtt: { url: redactUrl(brokerUrl), embedded, ...(embeddedBroker && { broker: embeddedBroker.counters }), connected: mqtt.connected, received: mqtt.received, reconnects: mqtt.reconnects },
      ws: { clients: liveHub.clientCount, frames_skipped: liveHub.framesSkipped, disconnected_slow: liveHub.disconnectedSlow },
      alerts: alerts.health(),
      process: processStats.latest(),
    });
    const http = new HttpServer({
      host: config.host,
      port: config.port,
      webDir: deps.webDir,
      auth,
      ...(config.tlsCert && { tls: readTls(config.tlsCert, config.tlsKey) }),
      onUpgrade: (req, socket, head, principal) => liveHub.handleUpgrade(req, socket, head, principal),
      // POST /api/v1/jobs, POST /api/v1/jobs/{id}/end, GET /api/v1/jobs/{id}; alerts, silences and rules.
      methodRoutes: [...jobsApi.routes(), ...alertRoutes(alerts, store, now)],
      // GET /metrics, /metrics/fleet (Prometheus text), /healthz and /readyz (server/http/metrics.ts).
      rawRoutes: operationsRoutes(live, now, healthInputs),
      routes: {
        '/api/v1/fleet': () => fleetView(live, now()),
        '/api/v1/series': async (url, principal) => {
          const hostsOfSite = (site: string) => live.allHosts().filter((h) => h.site === site).map(({ site: s, host }) => ({ site: s, host }));
          const parsed = parseSeriesParams(url.searchParams, now(), hostsOfSite);
          if (!parsed.ok) throw new HttpError(400, 'bad series query', parsed.problems);
          const target = parsed.query.target;
          if (target.kind === 'job' && !(await jobsApi.visible(target.job, principal))) throw new HttpError(404, `no job "${target.job}"`);
          return querySeries(store, parsed.query, now()).catch((err: Error) => {
            throw err instanceof RangeError ? new HttpError(400, 'bad series query', [`${err.message} (at most ${MAX_BUCKETS} buckets)`]) : err;
          });
        },
        '/api/v1/jobs': async (url, principal) => {
          const parsed = parseJobsParams(url.searchParams, now());
          if (!parsed.ok) throw new HttpError(400, 'bad jobs query', parsed.problems);
          const { offset, limit } = parsed.value;
          const filter = { ...parsed.value.filter, ...(principal.projects && { projects: principal.projects }) };
          const page = await queryJobs(store, filter, { offset, limit }, now());
          return facility ? facility.priceJobs(page, filter.from, filter.to) : page;
        },
        '/api/v1/facility': async (url) => {
          if (!facility) return { configured: false, reason: 'no site file: start the server with --site-config site.yaml' };
          const parsed = parseJobsParams(url.searchParams, now());
          if (!parsed.ok) throw new HttpError(400, 'bad facility query', parsed.problems);
          return { configured: true, time_zone: config.timeZone, from: parsed.value.filter.from, to: parsed.value.filter.to, ...(await facility.report(parsed.value.filter.from, parsed.value.filter.to)) };
        },
        '/api/v1/efficiency': async (url, principal) => {
          const parsed = parseEfficiencyParams(url.searchParams, now());
          if (!parsed.ok) throw new HttpError(400, 'bad efficiency query', parsed.problems);
          const { by } = parsed.value;
          // A scoped viewer's rows hold its projects' jobs; idle and unattributed energy are the fleet's.
          const filter = { ...parsed.value.filter, ...(principal.projects && { projects: principal.projects }) };
          const eff = await queryEfficiency(store, filter, by, config.timeZone);
          // With a site file each row is priced from its jobs' energy per quarter hour and the source mix of each.
          return { by, time_zone: config.timeZone, ...(facility ? await facility.priceEfficiency(eff, filter, by) : eff) };
        },
        '/api/v1/health': () => healthView(healthInputs()),
      },
    });
    const httpUrl = await http.start();
    stops.push(() => http.stop());
    // Stopped before the HTTP server (stops run in reverse): its WebSockets are upgraded connections that
    // server.close() would wait for, so a connected browser would hold the shutdown open.
    stops.push(() => liveHub.stop());
    // Its timers start once the HTTP server listens: a start that fails (a busy port) leaves none running.
    liveHub.start();

    // SIGHUP: the settings, the site file and the rules file again; a bad one is refused whole, and nothing running changes.
    let running = config;
    const reload = (next: ServerConfig = running) => {
      let loaded: SiteFiles;
      try {
        loaded = loadSiteFiles(next);
      } catch (err) {
        return log(`server: SIGHUP: refused whole, the running configuration stays: ${(err as Error).message}`);
      }
      const restart = needsRestart(running, next);
      sites = loaded.index;
      facility = loaded.site ? new Facility(loaded.site, config.timeZone, store) : undefined;
      alerts.reload(loaded.rules, next.alertRules || '(no rules file)', loaded.index);
      running = { ...running, siteConfig: next.siteConfig, alertRules: next.alertRules };
      log(`server: SIGHUP: site file ${next.siteConfig || '(none)'} and alert rules reloaded${restart.length ? `; changed settings that take effect at the next start: ${restart.join(', ')}` : ''}`);
    };
    return { httpUrl, brokerUrl: redactUrl(brokerUrl), localBrokerUrl: embeddedBroker ? embeddedBroker.internalUrl(brokerUrl) : brokerUrl, reload, stop: stopAll };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
