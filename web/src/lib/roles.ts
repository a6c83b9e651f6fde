/**
 * Who is signed in, as GET /api/v1/whoami answers, and what the UI offers
 * them. The server enforces roles (403) whatever the UI shows; the UI only
 * leaves out what would be refused. Three roles, each including the one below
 * (server/auth/principal.ts): a viewer reads, an operator also acknowledges
 * and silences alerts and posts jobs, an admin also edits API rules. Pure;
 * tested in test/web/roles.test.ts.
 */

export const ROLES = ['viewer', 'operator', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export interface Whoami {
  /** The token's name, the proxy's user, or `local` without authentication. */
  name: string;
  role: Role;
  /** A viewer limited to these projects sees only their jobs; absent: every project. */
  projects?: readonly string[];
  via: string;
  /** False when the server runs without authentication (everyone is `local`, an admin). */
  auth: boolean;
}

/** Without sign-in every caller is an admin named `local` (server/auth/principal.ts, LOCAL). */
export const LOCAL_WHOAMI: Whoami = Object.freeze({ name: 'local', role: 'admin', via: 'local', auth: false });

export function isRole(x: unknown): x is Role {
  return typeof x === 'string' && (ROLES as readonly string[]).includes(x);
}

export function allows(role: Role | null | undefined, need: Role): boolean {
  return role !== null && role !== undefined && ROLES.indexOf(role) >= ROLES.indexOf(need);
}

/** The whoami answer checked field by field; null when it is not one (an old server, a proxy's page). */
export function parseWhoami(x: unknown): Whoami | null {
  if (typeof x !== 'object' || x === null) return null;
  const o = x as Record<string, unknown>;
  if (typeof o.name !== 'string' || !isRole(o.role)) return null;
  const projects = Array.isArray(o.projects) ? o.projects.filter((p): p is string => typeof p === 'string') : undefined;
  return {
    name: o.name,
    role: o.role,
    ...(projects && { projects }),
    via: typeof o.via === 'string' ? o.via : 'unknown',
    auth: o.auth === true,
  };
}

/** "t · viewer of llm, vision": the top bar's words for who is signed in. */
export function describeWho(w: Whoami): string {
  const scope = w.projects ? (w.projects.length > 0 ? ` of ${w.projects.join(', ')}` : ' of no project') : '';
  return `${w.name} · ${w.role}${scope}`;
}
