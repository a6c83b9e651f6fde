/**
 * The alerts API: active alerts and their history, acknowledgements,
 * silences, and the rules (file rules read-only, API rules editable).
 * Every write is in the store's alert log before it is answered.
 *
 *   GET    /api/v1/alerts?history=100     active alerts, silences, the latest transitions
 *   POST   /api/v1/alerts/ack             { key, by? }
 *   POST   /api/v1/silences               { rule?, target?, duration_s, reason, by? }
 *   DELETE /api/v1/silences/{id}
 *   GET    /api/v1/rules
 *   POST   /api/v1/rules                  a rule (rules.ts); PUT /api/v1/rules/{id}; DELETE /api/v1/rules/{id}
 */
import { HttpError, JsonReply, type MethodRoute } from '../http/http-server.js';
import type { HistoryReader, WindowStore } from '../store/store.js';
import { type Principal, seesAlertTarget } from '../auth/principal.js';
import type { AlertEvent } from './alert-state.js';
import type { AlertService } from './alert-service.js';

type Obj = Record<string, unknown>;
const isObject = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Who did it: the authenticated caller; with authentication off, the body's `by` (or `local`). */
function actor(body: Obj, principal: Principal): string {
  if (principal.via !== 'local') return principal.name;
  return typeof body.by === 'string' && body.by.length > 0 && body.by.length <= 64 ? body.by : principal.name;
}

export function alertRoutes(alerts: AlertService, store: WindowStore & HistoryReader, now: () => number): MethodRoute[] {
  const durable = async <T>(value: T): Promise<T> => {
    await store.flush();
    return value;
  };
  return [
    {
      method: 'GET', path: '/api/v1/alerts',
      handle: async ({ url, principal }) => {
        const n = Number(url.searchParams.get('history') ?? 100);
        if (!Number.isInteger(n) || n < 0 || n > 5000) throw new HttpError(400, 'bad alerts query', ['history must be an integer from 0 to 5000']);
        const history = n === 0 ? [] : await store.alertLog({ sinceMs: 0, kinds: ['transition'], limit: n });
        const view = alerts.view();
        const seen = (e: { target: { label: string } }) => seesAlertTarget(principal, e.target.label);
        return { ...view, active: view.active.filter(seen), history: (history.map((r) => r.data) as AlertEvent[]).filter(seen).reverse() };
      },
    },
    {
      method: 'POST', path: '/api/v1/alerts/ack',
      handle: ({ body, principal }) => {
        if (!isObject(body) || typeof body.key !== 'string') throw new HttpError(400, 'bad acknowledgement', ['key: the alert key (rule|target) is required']);
        if (!seesAlertTarget(principal, body.key.slice(body.key.indexOf('|') + 1)) || !alerts.acknowledge(body.key, actor(body, principal))) throw new HttpError(404, `no active alert ${body.key}`);
        return durable({ acked: body.key });
      },
    },
    {
      method: 'POST', path: '/api/v1/silences',
      handle: ({ body, principal }) => {
        const problems: string[] = [];
        if (!isObject(body)) throw new HttpError(400, 'bad silence', ['body must be a JSON object']);
        for (const k of ['rule', 'target'] as const) if (body[k] !== undefined && (typeof body[k] !== 'string' || body[k] === '')) problems.push(`${k} must be a non-empty string`);
        if (body.rule === undefined && body.target === undefined) problems.push('rule or target: a silence of everything is not allowed; name a rule, a target glob, or both');
        const d = body.duration_s;
        if (typeof d !== 'number' || !(d > 0 && d <= 90 * 86_400)) problems.push('duration_s must be a number of seconds > 0 and <= 90 days');
        if (typeof body.reason !== 'string' || body.reason.trim() === '') problems.push('reason is required');
        if (problems.length > 0) throw new HttpError(400, 'bad silence', problems);
        const s = alerts.silence({
          ...(typeof body.rule === 'string' && { rule: body.rule }), ...(typeof body.target === 'string' && { target: body.target }),
          until: now() + (d as number) * 1000, reason: String(body.reason), by: actor(body, principal),
        });
        return durable(new JsonReply(201, s));
      },
    },
    {
      method: 'DELETE', path: '/api/v1/silences/{id}',
      handle: ({ params, principal }) => {
        if (!alerts.unsilence(params.id!, principal.name)) throw new HttpError(404, `no silence ${params.id}`);
        return durable({ removed: params.id });
      },
    },
    { method: 'GET', path: '/api/v1/rules', handle: () => ({ rules: alerts.view().rules }) },
    {
      // Who changed what: rules, acknowledgements, silences, tokens and reloads, newest first.
      method: 'GET', path: '/api/v1/audit', role: 'admin',
      handle: async ({ url }) => {
        const n = Number(url.searchParams.get('limit') ?? 200);
        if (!Number.isInteger(n) || n < 1 || n > 10_000) throw new HttpError(400, 'bad audit query', ['limit must be an integer from 1 to 10000']);
        const kinds = ['ack', 'silence', 'unsilence', 'rule_put', 'rule_delete', 'token_create', 'token_revoke', 'config_reload', 'host_forget'] as const;
        const log = await store.alertLog({ sinceMs: 0, kinds, limit: n });
        return { entries: log.reverse().map((e) => ({ at: e.ts, actor: e.actor ?? null, action: e.kind, target: e.key, detail: e.data })) };
      },
    },
    { method: 'POST', path: '/api/v1/rules', role: 'admin', handle: ({ body, principal }) => putRule(alerts, body, undefined, principal.name, durable) },
    { method: 'PUT', path: '/api/v1/rules/{id}', role: 'admin', handle: ({ params, body, principal }) => putRule(alerts, body, params.id!, principal.name, durable) },
    {
      method: 'DELETE', path: '/api/v1/rules/{id}', role: 'admin',
      handle: ({ params, principal }) => {
        const r = alerts.deleteRule(params.id!, principal.name);
        if (r === 'read-only') throw new HttpError(403, `rule ${params.id} comes from the rules file, which is read-only here`);
        if (r === 'unknown') throw new HttpError(404, `no API rule ${params.id}`);
        return durable({ deleted: params.id });
      },
    },
  ];
}

function putRule(alerts: AlertService, body: unknown, id: string | undefined, by: string, durable: <T>(v: T) => Promise<T>): Promise<JsonReply> {
  const r = alerts.putRule(body, id, by);
  if (!r.ok) throw new HttpError(r.status, 'bad rule', r.problems);
  return durable(new JsonReply(id === undefined ? 201 : 200, r.rule));
}
