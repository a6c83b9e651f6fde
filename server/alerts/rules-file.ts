/**
 * The alert rules file (`--alert-rules rules.yaml`): the rules that are
 * read-only in the UI, and where firing alerts are sent. Read at start
 * (a problem stops the start, every problem listed) and on SIGHUP (a bad
 * file is refused whole and the running rules stay).
 *
 *   webhooks:
 *     - { url: "https://hooks.example/kilowatch", format: json }      # json | slack
 *     - { url: "https://hooks.slack.com/services/...", format: slack, timeout_s: 5 }
 *   rules:
 *     - { id: spike, type: threshold, target: { kind: gpu }, metric: power_pct_limit, above: 110, clear: 100, severity: critical }
 */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { type Rule, type RuleContext, parseRules } from './rules.js';

export interface WebhookTarget {
  url: string;
  format: 'json' | 'slack';
  /** Each request is abandoned after this long (and retried with backoff). */
  timeoutMs: number;
}

export interface RulesFile {
  rules: Rule[];
  webhooks: WebhookTarget[];
}

export type RulesFileResult = { ok: true; file: RulesFile } | { ok: false; problems: string[] };

export function parseRulesFile(doc: unknown, file: string, ctx: RuleContext): RulesFileResult {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return { ok: false, problems: [`${file}: expected a map with rules and webhooks`] };
  const raw = doc as Record<string, unknown>;
  const problems: string[] = [];
  for (const k of Object.keys(raw)) if (k !== 'rules' && k !== 'webhooks') problems.push(`${file}: ${k} is not a section (rules, webhooks)`);
  const rules = parseRules(raw.rules ?? [], 'config', ctx, `${file}: rules`);
  if (!rules.ok) problems.push(...rules.problems);
  const webhooks: WebhookTarget[] = [];
  const list = raw.webhooks ?? [];
  if (!Array.isArray(list)) problems.push(`${file}: webhooks must be a list`);
  else {
    list.forEach((w, i) => {
      const at = `${file}: webhooks[${i}]`;
      const o = (typeof w === 'object' && w !== null ? w : {}) as Record<string, unknown>;
      let url: URL | undefined;
      try {
        url = new URL(String(o.url));
      } catch {
        /* reported below */
      }
      if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) problems.push(`${at}.url must be an http or https URL`);
      const format = o.format ?? 'json';
      if (format !== 'json' && format !== 'slack') problems.push(`${at}.format must be json or slack`);
      const timeout = o.timeout_s ?? 5;
      if (typeof timeout !== 'number' || !(timeout > 0 && timeout <= 60)) problems.push(`${at}.timeout_s must be a number > 0 and <= 60`);
      if (url) webhooks.push({ url: url.href, format: format as WebhookTarget['format'], timeoutMs: Number(timeout) * 1000 });
    });
  }
  return problems.length > 0 || !rules.ok ? { ok: false, problems } : { ok: true, file: { rules: rules.rules, webhooks } };
}

/** Reads and checks the file; problems name the file and the field. */
export function loadRulesFile(path: string, ctx: RuleContext): RulesFileResult {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    return { ok: false, problems: [`cannot read the alert rules file ${path}: ${(err as Error).message}`] };
  }
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    return { ok: false, problems: [`${path}: not YAML: ${(err as Error).message.split('\n')[0]}`] };
  }
  return parseRulesFile(doc ?? {}, path, ctx);
}
