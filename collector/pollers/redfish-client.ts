/**
 * The HTTP side of a Redfish BMC: GET a resource as JSON, with basic auth or
 * a session (DSP0266 §13.3: POST SessionService/Sessions, then the
 * X-Auth-Token header; DELETE the session at the end, because BMCs hold only a
 * few sessions and an abandoned one lingers until its timeout).
 *
 * - node:http/https with one keep-alive agent per BMC and at most two sockets:
 *   a BMC is a small embedded computer, and a poller needs one request at a
 *   time per resource;
 * - self-signed certificates are accepted only when the entry says
 *   `insecure_tls: true` (most BMCs ship one, but accepting it silently
 *   would let anyone on the management network answer for the BMC);
 * - every request stops when its AbortSignal does (the poll's deadline);
 * - a response body is bounded (MAX_BODY_BYTES): a resource that grows beyond
 *   it fails the request instead of the collector's memory.
 */
import http from 'node:http';
import https from 'node:https';
import { type Obj, isObject } from '../meters/reading.js';

/** A Sensors collection of a large server, expanded, is about 200 kB; no single resource needs more. */
export const MAX_BODY_BYTES = 4 * 1024 * 1024;
/** How long stop() waits for the session's DELETE. */
const LOGOUT_WAIT_MS = 1000;

export interface RedfishCredentials {
  username: string;
  password: string;
}

export interface RedfishClientOptions {
  /** Base URL of the BMC, e.g. https://10.0.0.5 or http://127.0.0.1:8000. */
  url: string;
  auth: 'none' | 'basic' | 'session';
  insecureTls: boolean;
}

/** A failed request; `status` is the HTTP status when the BMC answered. */
export class RedfishError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export class RedfishClient {
  private readonly base: URL;
  private readonly agent: http.Agent;
  private credentials: RedfishCredentials | undefined;
  private token: string | undefined;
  private sessionUri: string | undefined;

  constructor(private readonly opts: RedfishClientOptions) {
    this.base = new URL(opts.url);
    const agentOptions = { keepAlive: true, maxSockets: 2 };
    this.agent = this.base.protocol === 'https:' ? new https.Agent({ ...agentOptions, rejectUnauthorized: !opts.insecureTls }) : new http.Agent(agentOptions);
  }

  setCredentials(c: RedfishCredentials | undefined): void {
    this.credentials = c;
  }

  /** GETs a resource (an absolute path such as /redfish/v1/Chassis) as a JSON object. */
  async get(path: string, signal: AbortSignal): Promise<Obj> {
    if (this.opts.auth === 'session' && !this.token) await this.login(signal);
    let answer = await this.request('GET', path, signal);
    if (answer.status === 401 && this.opts.auth === 'session') {
      // The session expired on the BMC (its SessionTimeout): log in once more and retry.
      this.token = undefined;
      await this.login(signal);
      answer = await this.request('GET', path, signal);
    }
    if (answer.status < 200 || answer.status > 299) throw new RedfishError(`GET ${path}: HTTP ${answer.status}${messageOf(answer.body)}`, answer.status);
    let doc: unknown;
    try {
      doc = JSON.parse(answer.body);
    } catch (err) {
      throw new RedfishError(`GET ${path}: not JSON (${(err as Error).message}): ${answer.body.slice(0, 80)}`, answer.status);
    }
    if (!isObject(doc)) throw new RedfishError(`GET ${path}: expected a JSON object, got ${answer.body.slice(0, 80)}`, answer.status);
    return doc;
  }

  private async login(signal: AbortSignal): Promise<void> {
    if (!this.credentials) throw new RedfishError('session auth needs username and password');
    const body = JSON.stringify({ UserName: this.credentials.username, Password: this.credentials.password });
    const answer = await this.request('POST', '/redfish/v1/SessionService/Sessions', signal, body);
    const token = answer.headers['x-auth-token'];
    if (answer.status < 200 || answer.status > 299 || typeof token !== 'string') {
      throw new RedfishError(`session login: HTTP ${answer.status}${typeof token === 'string' ? '' : ', no X-Auth-Token'}${messageOf(answer.body)}`, answer.status);
    }
    this.token = token;
    const location = answer.headers.location;
    this.sessionUri = typeof location === 'string' ? new URL(location, this.base).pathname : undefined;
  }

  private headers(body?: string): http.OutgoingHttpHeaders {
    const h: http.OutgoingHttpHeaders = { Accept: 'application/json', 'OData-Version': '4.0' };
    if (body !== undefined) Object.assign(h, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
    if (this.opts.auth === 'session' && this.token) h['X-Auth-Token'] = this.token;
    if (this.opts.auth === 'basic' && this.credentials) {
      h.Authorization = `Basic ${Buffer.from(`${this.credentials.username}:${this.credentials.password}`).toString('base64')}`;
    }
    return h;
  }

  private request(method: string, path: string, signal: AbortSignal, body?: string): Promise<Answer> {
    const url = new URL(path, this.base);
    const lib = url.protocol === 'https:' ? https : http;
    return new Promise<Answer>((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason);
      const req = lib.request(url, { method, agent: this.agent, headers: this.headers(body), signal }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_BODY_BYTES) return req.destroy(new RedfishError(`${method} ${path}: the answer exceeds ${MAX_BODY_BYTES} bytes`));
          chunks.push(chunk);
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      req.on('error', (err) => reject(signal.aborted ? signal.reason : err));
      req.end(body);
    });
  }

  /** Ends the session on the BMC (best effort, bounded) and closes the sockets. */
  async close(): Promise<void> {
    if (this.token && this.sessionUri) {
      const signal = AbortSignal.timeout(LOGOUT_WAIT_MS);
      await this.request('DELETE', this.sessionUri, signal).catch(() => undefined);
    }
    this.token = undefined;
    this.agent.destroy();
  }
}

/** The first message of a Redfish error body (DSP0266 §9.6: error.@Message.ExtendedInfo), for the log. */
function messageOf(body: string): string {
  try {
    const doc = JSON.parse(body) as { error?: { message?: unknown; '@Message.ExtendedInfo'?: { Message?: unknown }[] } };
    const text = doc.error?.['@Message.ExtendedInfo']?.[0]?.Message ?? doc.error?.message;
    return typeof text === 'string' ? `: ${text.slice(0, 160)}` : '';
  } catch {
    return '';
  }
}
