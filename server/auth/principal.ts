/**
 * Who is asking, and what they may do (issue: security). Three roles, each
 * including the one below it:
 * - viewer: reads everything it is scoped to;
 * - operator: also acknowledges and silences alerts, and posts jobs;
 * - admin: also edits API-created rules and manages tokens.
 * A viewer can be scoped to projects: it sees infrastructure aggregates
 * (fleet, group and source power and energy) and only its projects' jobs,
 * users and per-job figures. Pure.
 */
export const ROLES = ['viewer', 'operator', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export interface Principal {
  /** The token's name, the proxy's user, or `local` when authentication is off. */
  name: string;
  role: Role;
  /** Projects a viewer is limited to; undefined: every project. */
  projects?: readonly string[];
  via: 'token' | 'session' | 'proxy' | 'local';
}

/** With authentication off (loopback, or --insecure), every caller is this. */
export const LOCAL: Principal = Object.freeze({ name: 'local', role: 'admin', via: 'local' });

export function allows(p: Principal, need: Role): boolean {
  return ROLES.indexOf(p.role) >= ROLES.indexOf(need);
}

/** Whether a principal may see a job of `project` (a job without a project is seen only by unscoped callers). */
export function seesProject(p: Principal, project: string | undefined): boolean {
  return p.projects === undefined || (project !== undefined && p.projects.includes(project));
}

/**
 * Whether an alert's target is visible: infrastructure targets to everyone;
 * a project's budget only within scope; job and user targets only to
 * unscoped callers (which project a user or job belongs to is not in the label).
 */
export function seesAlertTarget(p: Principal, label: string): boolean {
  if (p.projects === undefined) return true;
  if (label.startsWith('project:')) return p.projects.includes(label.slice('project:'.length));
  return !label.startsWith('job:') && !label.startsWith('user:');
}

export function isRole(v: unknown): v is Role {
  return typeof v === 'string' && (ROLES as readonly string[]).includes(v);
}
