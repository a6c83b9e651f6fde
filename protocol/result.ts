/**
 * The outcome of validating untrusted input. A validator never throws: it
 * returns the typed value, or a reason code (counted by the server) with a
 * human-readable detail naming the offending field.
 */

/** Reason codes are stable: they are metric labels in /api/v1/health. */
export type RejectReason =
  | 'oversized'
  | 'invalid_json'
  | 'bad_topic'
  | 'unknown_stream'
  | 'unsupported_version'
  | 'missing_field'
  | 'not_a_number'
  | 'non_finite'
  | 'bad_type'
  | 'negative'
  | 'impossible_value'
  | 'future'
  | 'too_old'
  /** The host sent faster than the server's per-host limit; not acknowledged, so it is sent again. */
  | 'rate_limited';

export type Result<T> =
  | { ok: true; value: T }
  | { ok: false; reason: RejectReason; detail: string };

export function ok<T>(value: T): Result<T> {
  return { ok: true, value };
}

export function fail<T = never>(reason: RejectReason, detail: string): Result<T> {
  return { ok: false, reason, detail };
}

/** Thrown only inside a validator and caught at its boundary; never escapes. */
export class Rejection extends Error {
  constructor(
    readonly reason: RejectReason,
    readonly detail: string,
  ) {
    super(detail);
  }
}

/** Runs a validator body that may throw Rejection, turning it into a Result. */
export function guard<T>(body: () => T): Result<T> {
  try {
    return ok(body());
  } catch (err) {
    if (err instanceof Rejection) return fail(err.reason, err.detail);
    throw err;
  }
}
