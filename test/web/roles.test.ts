import { describe, expect, it } from 'vitest';
import { LOCAL_WHOAMI, allows, describeWho, parseWhoami } from '../../web/src/lib/roles.js';

describe('allows', () => {
  it('each role includes the ones below it', () => {
    expect(allows('viewer', 'viewer')).toBe(true);
    expect(allows('viewer', 'operator')).toBe(false);
    expect(allows('operator', 'operator')).toBe(true);
    expect(allows('operator', 'admin')).toBe(false);
    expect(allows('admin', 'operator')).toBe(true);
    expect(allows('admin', 'admin')).toBe(true);
  });

  it('nobody signed in may do nothing', () => {
    expect(allows(null, 'viewer')).toBe(false);
    expect(allows(undefined, 'viewer')).toBe(false);
  });

  it('without authentication everyone is the local admin', () => {
    expect(allows(LOCAL_WHOAMI.role, 'admin')).toBe(true);
    expect(LOCAL_WHOAMI.auth).toBe(false);
  });
});

describe('parseWhoami', () => {
  it('reads the server answer, scope included', () => {
    expect(parseWhoami({ name: 't', role: 'viewer', projects: ['llm', 7], via: 'session', auth: true })).toEqual({
      name: 't',
      role: 'viewer',
      projects: ['llm'],
      via: 'session',
      auth: true,
    });
    expect(parseWhoami({ name: 'local', role: 'admin', via: 'local', auth: false })).toEqual(LOCAL_WHOAMI);
  });

  it('refuses what is not a principal', () => {
    expect(parseWhoami(null)).toBeNull();
    expect(parseWhoami('t')).toBeNull();
    expect(parseWhoami({ name: 't', role: 'root' })).toBeNull();
    expect(parseWhoami({ error: 'authentication required', auth: true })).toBeNull();
  });

  it('an auth flag other than true reads as no authentication', () => {
    expect(parseWhoami({ name: 'x', role: 'operator', via: 'token', auth: 'yes' })?.auth).toBe(false);
  });
});

describe('describeWho', () => {
  it('names the role and any project scope', () => {
    expect(describeWho({ name: 'ada', role: 'operator', via: 'session', auth: true })).toBe('ada · operator');
    expect(describeWho({ name: 't', role: 'viewer', projects: ['llm', 'vision'], via: 'session', auth: true })).toBe('t · viewer of llm, vision');
    expect(describeWho({ name: 't', role: 'viewer', projects: [], via: 'session', auth: true })).toBe('t · viewer of no project');
  });
});
