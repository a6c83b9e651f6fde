/**
 * The `kilowatch` command: `all`, `server` and `collector`. It is the only
 * place that reads process.env, argv and the clock's source; everything below
 * it receives a frozen config and injected dependencies.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type CollectorConfig, collectorConfig, collectorProblems } from '../collector/config.js';
import { replay } from '../collector/replay.js';
import type { RunningCollector } from '../collector/main.js';
import { serverConfig, serverProblems } from '../server/config.js';
import { OperatorError } from '../server/operator-error.js';
import type { RunningServer } from '../server/main.js';
import { helpText, layerConfig } from './config-layers.js';
import { runConfigCommand } from './config-check.js';
import { runJobCommand } from './job-command.js';
import { runExportCommand } from './export-command.js';
import { runHostCommand } from './host-command.js';
import { runTokenCommand } from './token-command.js';
import { runBackup, runRestore } from './maintenance.js';
import type { Command } from './options.js';

const here = dirname(fileURLToPath(import.meta.url));
const VERSION = (JSON.parse(readFileSync(join(here, '../../package.json'), 'utf8')) as { version: string }).version;

const COMMANDS: Record<string, { uses: Command[]; summary: string }> = {
  all: { uses: ['server', 'collector'], summary: 'server, embedded broker and a local collector (the simulated fleet when no GPU is present)' },
  server: { uses: ['server'], summary: 'ingest, store, HTTP API, WebSocket and web UI (embedded broker unless --broker)' },
  collector: { uses: ['collector'], summary: 'read GPUs (or simulate them) and publish windows to a broker' },
  backup: { uses: ['server'], summary: '<dir>: a consistent copy of the running server\'s DuckDB file (same --data-dir)' },
  restore: { uses: ['server'], summary: '<dir>: put a backup in place of the data dir\'s file; the server must be stopped' },
  job: { uses: ['server'], summary: 'start|end: report a job to the running server over HTTP (Slurm prolog/epilog, docs/slurm/)' },
  config: { uses: ['server', 'collector'], summary: 'check: validate the settings and the files they name (site, alert rules, pollers) without starting anything' },
  token: { uses: ['server'], summary: 'create|revoke|list: the running server\'s API tokens (through its admin socket)' },
  export: { uses: ['server'], summary: '<dir> [--from] [--to]: jobs.csv and gpu_hourly.csv of a range, written by the running server' },
  host: { uses: ['server'], summary: 'forget <site>/<host>: clear a decommissioned host\'s retained status and info (through the admin socket)' },
};

function usage(): string {
  return ['usage: kilowatch <command> [options]', '', 'commands:',
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`),
    '', 'kilowatch <command> --help lists its options. Settings come from kilowatch.yaml, then KILOWATCH_* variables, then flags.'].join('\n');
}

const log = (line: string) => console.log(line);

/** Above VictoriaMetrics' durability delay (15 s) plus a write and an ack interval. */
const VICTORIA_ACK_TIMEOUT_MS = 20_000;

/** --replay: print what the collector would publish for a captured reading, then exit (no broker). */
function runReplay(c: CollectorConfig): number {
  let text: string;
  try {
    text = readFileSync(c.replayFile, 'utf8');
  } catch (err) {
    console.error(`kilowatch: cannot read ${c.replayFile}: ${(err as Error).message}`);
    return 1;
  }
  const host = c.host || 'replay';
  const r = replay({ kind: c.source, text, topic: c.replayTopic || undefined, prefix: c.prefix, site: c.site, host, now: Date.now(), windowMs: c.windowMs });
  if (!r.ok) {
    console.error(`kilowatch: ${c.replayFile}: ${r.error}`);
    return 1;
  }
  // What the capture held that could not be read: counted with its reason, on stderr beside the messages.
  for (const n of r.notes ?? []) console.error(`kilowatch: ${c.replayFile}: ${n}`);
  for (const m of r.messages) console.log(JSON.stringify(m));
  return 0;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '--version' || name === '-v') return console.log(VERSION), 0;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') return console.log(usage()), name ? 0 : 2;
  const command = COMMANDS[name];
  if (!command) return console.error(`kilowatch: unknown command "${name}"\n\n${usage()}`), 2;

  // job has its own flags (--id, --hosts ...), and only needs the server's URL from the settings.
  if (name === 'job') return runJobCommand(rest, process.env, { log, error: (line) => console.error(line) });
  // config check reads the settings and their files, and starts nothing.
  if (name === 'config') return runConfigCommand(rest, process.env, { log, error: (line) => console.error(line) });
  if (name === 'token') return runTokenCommand(rest, process.env, { log, error: (line) => console.error(line) });
  if (name === 'host') return runHostCommand(rest, process.env, { log, error: (line) => console.error(line) });
  if (name === 'export') return runExportCommand(rest, process.env, Date.now(), { log, error: (line) => console.error(line) });

  // backup and restore take the backup directory first; their other options are the server's.
  const maintenance = name === 'backup' || name === 'restore';
  const target = maintenance && rest[0] !== undefined && !rest[0].startsWith('-') ? rest.shift() : undefined;
  const layered = layerConfig({ commands: command.uses, argv: rest, env: process.env, defaultConfigFile: 'kilowatch.yaml' });
  if (!layered.ok) {
    console.error(`kilowatch: the configuration has ${layered.problems.length} problem(s); nothing was started:\n${layered.problems.map((p) => `  - ${p}`).join('\n')}`);
    return 2;
  }
  if (layered.help) return console.log(`usage: kilowatch ${name} [options]\n${COMMANDS[name]?.summary}\n\noptions:\n${helpText(command.uses)}\n  --config <file>            settings file (default ./kilowatch.yaml if present); env KILOWATCH_CONFIG`), 0;

  if (maintenance) {
    if (!target) return console.error(`kilowatch: ${name} needs a directory: kilowatch ${name} <dir> [--data-dir <dir>]`), 2;
    const dataDir = serverConfig(layered.values).dataDir;
    try {
      return await (name === 'backup' ? runBackup(target, dataDir, log) : runRestore(target, dataDir, log));
    } catch (err) {
      console.error(`kilowatch: ${err instanceof OperatorError ? err.message : (err as Error).stack ?? err}`);
      return 1;
    }
  }

  const collectorCfg = command.uses.includes('collector') ? collectorConfig(layered.values) : undefined;
  if (name === 'collector' && collectorCfg?.replayFile) return runReplay(collectorCfg);
  const problems = [...(collectorCfg ? collectorProblems(collectorCfg) : []), ...(command.uses.includes('server') ? serverProblems(serverConfig(layered.values)) : [])];
  if (name === 'collector' && collectorCfg?.brokerUrl === '') problems.push('collector needs a broker: --broker mqtt://host:port or KILOWATCH_BROKER');
  if (problems.length > 0) {
    console.error(`kilowatch: the configuration has ${problems.length} problem(s); nothing was started:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    return 2;
  }

  let server: RunningServer | undefined;
  let collector: RunningCollector | undefined;
  /** The demo files the simulated fleet was started with, so SIGHUP keeps them. */
  let demoFiles: { siteConfig: string; alertRules: string } | undefined;
  const deps = { now: Date.now, log, version: VERSION };
  try {
    if (command.uses.includes('server')) {
      // Imported on demand: a collector on a GPU host never loads DuckDB, Aedes or ws (memory footprint).
      const { startServer } = await import('../server/main.js');
      let cfg = serverConfig(layered.values);
      // The simulated fleet comes with its demo site (racks, meters, a grid and a fuel cell), so every view has data.
      if (name === 'all' && !cfg.siteConfig && collectorCfg && (collectorCfg.source === 'sim' || (collectorCfg.source === 'auto' && !(await import('../collector/fleet.js')).driverPresent()))) {
        cfg = { ...cfg, siteConfig: join(here, '../../docs/demo-site.yaml') };
        log(`kilowatch: simulated fleet: using the demo site file ${cfg.siteConfig}`);
        if (!cfg.alertRules) {
          cfg = { ...cfg, alertRules: join(here, '../../docs/alert-rules.yaml') };
          log(`kilowatch: simulated fleet: using the demo alert rules ${cfg.alertRules}`);
        }
        demoFiles = { siteConfig: cfg.siteConfig, alertRules: cfg.alertRules };
      }
      server = await startServer(cfg, { ...deps, webDir: join(here, '../web') });
      // SIGHUP rereads the settings and the files they name, as daemons do; it never stops the process.
      // Registered as soon as the server runs: until then, SIGHUP's default would end the process.
      process.on('SIGHUP', () => {
        // The settings are layered again (file, environment, the same flags); a file that no longer checks out changes nothing.
        const again = layerConfig({ commands: command.uses, argv: rest, env: process.env, defaultConfigFile: 'kilowatch.yaml' });
        const problems = again.ok ? serverProblems(serverConfig(again.values)) : again.problems;
        if (!again.ok || problems.length > 0) return log(`kilowatch: SIGHUP: the settings were refused whole, the running ones stay:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
        let next = serverConfig(again.values);
        if (demoFiles && !next.siteConfig) next = { ...next, siteConfig: demoFiles.siteConfig, alertRules: next.alertRules || demoFiles.alertRules };
        server?.reload(next);
      });
      log(`kilowatch ${VERSION}: server ready at ${server.httpUrl} (MQTT ${server.brokerUrl})`);
    }
    if (collectorCfg) {
      let cfg = server && collectorCfg.brokerUrl === '' ? { ...collectorCfg, brokerUrl: server.localBrokerUrl } : collectorCfg;
      // VictoriaMetrics acknowledges 15 s after a write (server/store/victoria-store.ts): a shorter ack timeout only resends.
      if (server && serverConfig(layered.values).store === 'victoriametrics' && cfg.ackTimeoutMs < VICTORIA_ACK_TIMEOUT_MS) {
        log(`kilowatch: --store victoriametrics acknowledges after about 15 s, so the local collector waits ${VICTORIA_ACK_TIMEOUT_MS / 1000} s for acks (not ${cfg.ackTimeoutMs / 1000} s) before it resends`);
        cfg = { ...cfg, ackTimeoutMs: VICTORIA_ACK_TIMEOUT_MS };
      }
      const { startCollector } = await import('../collector/main.js');
      collector = await startCollector(Object.freeze(cfg), deps);
    }
    if (server) log(`kilowatch: open ${server.httpUrl}`);
  } catch (err) {
    await collector?.stop();
    await server?.stop();
    console.error(`kilowatch: ${err instanceof OperatorError ? err.message : (err as Error).stack ?? err}`);
    return 1;
  }

  // Stop in reverse order of start: the collector says "offline", then the server flushes the store.
  await new Promise<void>((resolve) => {
    let stopping = false;
    const onSignal = (signal: string) => {
      if (stopping) {
        console.error(`kilowatch: ${signal} again, exiting without waiting`);
        process.exit(130);
      }
      stopping = true;
      log(`kilowatch: ${signal}, stopping`);
      void (async () => {
        await collector?.stop();
        await server?.stop();
        log(server ? 'kilowatch: stopped; store flushed' : 'kilowatch: stopped');
        // A native NVML call stuck in a worker thread keeps Node from exiting (nvml.ts): end by signal.
        if (collector?.fleet.mustKill()) {
          log('kilowatch: an NVML call is still hung in a worker thread; ending the process with SIGKILL');
          process.kill(process.pid, 'SIGKILL');
        }
        resolve();
      })();
    };
    process.on('SIGINT', () => onSignal('SIGINT'));
    process.on('SIGTERM', () => onSignal('SIGTERM'));
  });
  return 0;
}

process.exitCode = await main(process.argv.slice(2));
