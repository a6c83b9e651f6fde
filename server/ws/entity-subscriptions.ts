/**
 * One client's host, GPU and job subscriptions: each gets its schema, a
 * backfill from the store (the last 15 minutes, or the span since `since`
 * when a reconnecting client resumes), then the rows of arriving windows,
 * coalesced by the hub's tick (at most 10 frames a second). Bounded: at most
 * MAX_SUBSCRIPTIONS per client and MAX_PENDING rows per subscription (the
 * oldest give way, and the subscription is backfilled whole again).
 */
import type { GpuWindow } from '../../protocol/payloads.js';
import type { ServerMessage } from '../../protocol/ws.js';
import type { HistoryReader, MemberSelector } from '../store/store.js';
import { ENTITY_COLUMNS, type EntityKey, type EntityView, backfill, parseEntityId, rowOf } from './entity-views.js';

export const MAX_SUBSCRIPTIONS = 32;
const MAX_PENDING = 600;
const DEFAULT_BACKFILL_MS = 15 * 60_000;
/** A resume never reaches further back than a day: older history is the History page's, not a live view's. */
const MAX_BACKFILL_MS = 86_400_000;

interface Subscription {
  key: EntityKey;
  /** Rows by ts, waiting for the next tick; sent only once the backfill went out. */
  pending: Map<number, (number | null)[]>;
  ready: boolean;
  /** A group's running sums per bucket, so late hosts add to what was sent. */
  sums: Map<number, (number | null)[]>;
  /** Set when rows were dropped or frames skipped: the next flush backfills it whole. */
  stale: boolean;
}

export interface EntityDeps {
  store: HistoryReader;
  now: () => number;
  /** A job's GPUs, or undefined when the job is unknown or not the caller's to see. */
  jobGpus: (job: string) => Promise<MemberSelector[] | undefined>;
  /** A group's hosts, or undefined when the site file has no such group. */
  groupHosts: (group: string) => { site: string; host: string }[] | undefined;
}

export class EntitySubscriptions {
  private readonly subs = new Map<string, Subscription>();

  constructor(
    private readonly deps: EntityDeps,
    private readonly send: (msg: ServerMessage) => void,
  ) {}

  get size(): number {
    return this.subs.size;
  }

  async subscribe(view: EntityView, id: string | undefined, since: number | undefined): Promise<void> {
    const key = parseEntityId(view, id ?? '');
    if (!key) return this.send({ type: 'error', reason: `${view} view needs an id: ${view === 'host' ? 'site/host' : view === 'gpu' ? 'site/host/gpu' : view === 'group' ? 'the group name' : 'the job id'}`, view });
    const name = `${view}:${key.id}`;
    if (!this.subs.has(name) && this.subs.size >= MAX_SUBSCRIPTIONS) return this.send({ type: 'error', reason: `at most ${MAX_SUBSCRIPTIONS} subscriptions per connection`, view, id: key.id });
    if (view === 'job') {
      const gpus = await this.deps.jobGpus(key.id);
      if (!gpus) return this.send({ type: 'error', reason: `no job "${key.id}"`, view, id: key.id });
      key.gpus = gpus;
    }
    if (view === 'group') {
      const hosts = this.deps.groupHosts(key.id);
      if (!hosts) return this.send({ type: 'error', reason: `no group "${key.id}" in the site file`, view, id: key.id });
      key.hosts = hosts;
    }
    const sub: Subscription = { key, pending: new Map(), sums: new Map(), ready: false, stale: false };
    this.subs.set(name, sub);
    this.send({ type: 'schema', view, id: key.id, columns: [...ENTITY_COLUMNS[view]] });
    await this.backfill(sub, since);
  }

  unsubscribe(view: EntityView, id: string | undefined): void {
    this.subs.delete(`${view}:${id ?? ''}`);
  }

  /** A live window: the rows it adds to this client's subscriptions, sent at the next tick. */
  onWindow(site: string, host: string, w: GpuWindow): void {
    for (const sub of this.subs.values()) {
      const row = rowOf(sub.key, site, host, w);
      if (!row) continue;
      if (sub.key.view === 'group') {
        // A group's bucket grows as its hosts report: the parts add up (each host's window arrives once).
        const sum = sub.sums.get(row[0]!) ?? [row[0]!, 0, 0, 0];
        for (let i = 1; i < 4; i++) sum[i] = (sum[i] ?? 0) + (row[i] ?? 0);
        sub.sums.set(row[0]!, sum);
        if (sub.sums.size > MAX_PENDING) sub.sums.delete(sub.sums.keys().next().value as number);
        sub.pending.set(row[0]!, [...sum]);
      } else sub.pending.set(row[0]!, row);
      if (sub.pending.size > MAX_PENDING) {
        sub.pending.delete(sub.pending.keys().next().value as number);
        sub.stale = true;
      }
    }
  }

  /** The hub's tick, when the client keeps up: one rows frame per subscription with news. */
  flush(): void {
    for (const sub of this.subs.values()) {
      if (!sub.ready) continue;
      if (sub.stale) {
        void this.backfill(sub, undefined);
        continue;
      }
      if (sub.pending.size === 0) continue;
      const rows = [...sub.pending.values()].sort((a, b) => a[0]! - b[0]!);
      sub.pending.clear();
      this.send({ type: 'rows', view: sub.key.view, id: sub.key.id, replace: false, columns: ENTITY_COLUMNS[sub.key.view].map((_, i) => rows.map((r) => r[i] ?? null)) });
    }
  }

  /** Frames were skipped for this client: every subscription is backfilled whole once it drains. */
  markStale(): void {
    for (const sub of this.subs.values()) sub.stale = true;
  }

  private async backfill(sub: Subscription, since: number | undefined): Promise<void> {
    sub.ready = false;
    sub.stale = false;
    const now = this.deps.now();
    const from = Math.max(now - MAX_BACKFILL_MS, since ?? now - DEFAULT_BACKFILL_MS);
    let columns: (number | null)[][];
    try {
      columns = await backfill(this.deps.store, sub.key, from, now + 1000, now);
    } catch (err) {
      columns = ENTITY_COLUMNS[sub.key.view].map(() => []);
      this.send({ type: 'error', reason: `history unavailable (${(err as Error).message.split('\n')[0]}); live rows follow`, view: sub.key.view, id: sub.key.id });
    }
    this.send({ type: 'rows', view: sub.key.view, id: sub.key.id, replace: true, columns });
    sub.ready = true; // rows that arrived meanwhile are in pending and go out at the next tick, upserting by ts
  }
}
