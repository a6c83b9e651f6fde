/**
 * `kilowatch config check [--config file] [flags]`: everything a start would
 * check, without starting anything. The layered settings (kilowatch.yaml,
 * KILOWATCH_* variables, flags) of both the server and the collector, the
 * checks across settings, and the files they name: the site file, the alert
 * rules file (judged against that site's groups and sources), the collector's
 * pollers file and its mqtt-json meter map. Every problem is listed; the exit
 * code is 0 when there is none and 2 otherwise, like a start that refuses.
 * No socket is opened, no data dir is created and no DuckDB file is touched,
 * so it is safe beside a running server (ARCHITECTURE.md §8, the file lock).
 */
import { existsSync, readFileSync } from 'node:fs';
import { collectorConfig, collectorProblems } from '../collector/config.js';
import { parseJsonMappings } from '../collector/meters/json-mappings.js';
import { parsePollersFile } from '../collector/pollers/registry.js';
import { loadRulesFile } from '../server/alerts/rules-file.js';
import { siteIndex } from '../server/alerts/site-index.js';
import { serverConfig, serverProblems } from '../server/config.js';
import type { SiteConfig } from '../server/core/site-config.js';
import { loadSiteConfig } from '../server/facility.js';
import { helpText, layerConfig } from './config-layers.js';

export interface ConfigCheckIo {
  log: (line: string) => void;
  error: (line: string) => void;
}

export interface ConfigCheckResult {
  problems: string[];
  /** What was read and found good, one line each, for the operator. */
  checked: string[];
}

const USAGE = 'usage: kilowatch config check [--config <file>] [options]';

function help(): string {
  return [
    USAGE,
    'Checks the settings of the server and the collector (kilowatch.yaml, then KILOWATCH_* variables, then flags) and the',
    'files they name (site file, alert rules, pollers file, mqtt-json meter map) without starting anything.',
    'Exit 0 when valid; 2 with every problem listed when not.',
    '',
    'options (the same as kilowatch all):',
    helpText(['server', 'collector']),
    '  --config <file>            settings file (default ./kilowatch.yaml if present); env KILOWATCH_CONFIG',
  ].join('\n');
}

/** A file's problems as separate entries: the loaders below put them in one message, one per "  - " line. */
function splitProblems(message: string): string[] {
  const [head, ...items] = message.split('\n  - ');
  return items.length > 0 ? items : [head!];
}

function readOrProblem(file: string, what: string, problems: string[]): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    problems.push(`${what}: cannot read ${file}: ${(err as Error).message}`);
    return undefined;
  }
}

/** Checks everything; reads files, starts nothing. */
export function checkConfiguration(argv: string[], env: Record<string, string | undefined>): ConfigCheckResult | { help: true } {
  const layered = layerConfig({ commands: ['server', 'collector'], argv, env, defaultConfigFile: 'kilowatch.yaml' });
  // Without valid settings the file names are unknown: the settings' problems are all there is to say.
  if (!layered.ok) return { problems: layered.problems, checked: [] };
  if (layered.help) return { help: true };
  const problems: string[] = [];
  const checked: string[] = [];
  const file = layered.configFile;
  checked.push(file && existsSync(file) ? `settings: ${file}, KILOWATCH_* variables and flags` : `settings: defaults, KILOWATCH_* variables and flags (no ${file ?? 'settings file'})`);

  const server = serverConfig(layered.values);
  const collector = collectorConfig(layered.values);
  problems.push(...serverProblems(server), ...collectorProblems(collector));

  let site: SiteConfig | undefined;
  let siteBroken = false;
  if (server.siteConfig) {
    try {
      site = loadSiteConfig(server.siteConfig);
      checked.push(`site file: ${server.siteConfig} (${site.groups.length} group(s), ${site.sources.length} power source(s))`);
    } catch (err) {
      siteBroken = true;
      problems.push(...splitProblems((err as Error).message).map((p) => (p.startsWith(server.siteConfig) || p.startsWith('server.site_config') ? p : `site file: ${p}`)));
    }
  }

  if (server.alertRules) {
    const r = loadRulesFile(server.alertRules, siteIndex(site));
    if (r.ok) checked.push(`alert rules: ${server.alertRules} (${r.file.rules.length} rule(s), ${r.file.webhooks.length} webhook(s))`);
    else {
      // Rules name groups and sources of the site file; with a broken site file those names cannot be confirmed.
      const note = siteBroken ? ' (checked without the site file, which has problems: unknown group or source names may come from it)' : '';
      problems.push(...r.problems.map((p) => `alert rules: ${p}${note}`));
    }
  }

  if (collector.pollersFile) {
    const text = readOrProblem(collector.pollersFile, 'collector.pollers', problems);
    if (text !== undefined) {
      const r = parsePollersFile(text, collector.pollersFile);
      if (r.ok) checked.push(`pollers file: ${collector.pollersFile} (${r.entries.length} poller(s): ${r.entries.map((e) => e.id).join(', ') || 'none'})`);
      else problems.push(...r.problems);
    }
  }

  if (collector.meterMapFile) {
    const text = readOrProblem(collector.meterMapFile, 'collector.meter_map', problems);
    if (text !== undefined) {
      const r = parseJsonMappings(text, collector.meterMapFile);
      if (r.ok) checked.push(`meter map: ${collector.meterMapFile} (${r.mappings.length} mapping(s))`);
      else problems.push(...r.problems);
    }
  }
  return { problems, checked };
}

/** `kilowatch config <subcommand> ...`; returns the exit code. */
export function runConfigCommand(argv: string[], env: Record<string, string | undefined>, io: ConfigCheckIo): number {
  const [sub, ...rest] = argv;
  if (sub === '--help' || sub === '-h') return io.log(help()), 0;
  if (sub !== 'check') {
    io.error(`kilowatch: config needs a subcommand${sub === undefined ? '' : `, not "${sub}"`}\n${USAGE}`);
    return 2;
  }
  const r = checkConfiguration(rest, env);
  if ('help' in r) return io.log(help()), 0;
  if (r.problems.length > 0) {
    io.error(`kilowatch: the configuration has ${r.problems.length} problem(s):\n${r.problems.map((p) => `  - ${p}`).join('\n')}`);
    return 2;
  }
  io.log(`kilowatch: the configuration is valid\n${r.checked.map((c) => `  - ${c}`).join('\n')}`);
  return 0;
}
