/**
 * Reads a poller entry's own settings with a problem per bad field, naming
 * the entry and the field, so the pollers file is checked once at start with
 * every problem listed (ARCHITECTURE.md §6.4). Each kind lists its settings;
 * an unknown key is a problem, so a typo (`pasword`) cannot be silently
 * ignored.
 */
import type { PollerEntry } from './poller.js';

/** Keys every entry may have, whatever its kind (poller.ts PollerEntry). */
export const COMMON_KEYS = ['kind', 'id', 'interval_ms', 'timeout_ms'] as const;

export class EntryFields {
  readonly problems: string[] = [];

  /** `where` names the entry in problems, e.g. `entry 2 (id "bmc-1")`. */
  constructor(
    private readonly entry: PollerEntry,
    private readonly where: string,
  ) {}

  problem(key: string, text: string): void {
    this.problems.push(`${this.where}: ${key} ${text}`);
  }

  string(key: string, opts: { required?: boolean; pattern?: RegExp; patternText?: string } = {}): string | undefined {
    const v = this.entry[key];
    if (v === undefined || v === null) {
      if (opts.required) this.problem(key, 'is required');
      return undefined;
    }
    if (typeof v !== 'string' || v === '') {
      this.problem(key, `must be a non-empty string, got ${JSON.stringify(v)}`);
      return undefined;
    }
    if (opts.pattern && !opts.pattern.test(v)) {
      this.problem(key, `must be ${opts.patternText ?? `like ${opts.pattern}`}, got ${JSON.stringify(v)}`);
      return undefined;
    }
    return v;
  }

  bool(key: string, fallback: boolean): boolean {
    const v = this.entry[key];
    if (v === undefined) return fallback;
    if (typeof v !== 'boolean') {
      this.problem(key, `must be true or false, got ${JSON.stringify(v)}`);
      return fallback;
    }
    return v;
  }

  int(key: string, min: number, max: number): number | undefined {
    const v = this.entry[key];
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      this.problem(key, `must be an integer from ${min} to ${max}, got ${JSON.stringify(v)}`);
      return undefined;
    }
    return v;
  }

  oneOf<T extends string>(key: string, values: readonly T[], fallback: T): T {
    const v = this.entry[key];
    if (v === undefined) return fallback;
    if (typeof v !== 'string' || !values.includes(v as T)) {
      this.problem(key, `must be one of ${values.join(', ')}, got ${JSON.stringify(v)}`);
      return fallback;
    }
    return v as T;
  }

  /** A list of strings (command arguments, OIDs); a single string is not accepted, to keep quoting unambiguous. */
  strings(key: string): string[] | undefined {
    const v = this.entry[key];
    if (v === undefined) return undefined;
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) {
      this.problem(key, `must be a list of strings, got ${JSON.stringify(v)}`);
      return undefined;
    }
    return v as string[];
  }

  /** Flags every key that is neither common nor in `allowed`. */
  onlyKeys(allowed: readonly string[]): void {
    for (const key of Object.keys(this.entry)) {
      if (!(COMMON_KEYS as readonly string[]).includes(key) && !allowed.includes(key)) {
        this.problems.push(`${this.where}: unknown setting ${JSON.stringify(key)} for kind ${this.entry.kind} (known: ${[...COMMON_KEYS, ...allowed].join(', ')})`);
      }
    }
  }
}
