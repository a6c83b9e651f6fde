/** Routing of the HTTP server: exact GET routes as before, method routes with path parameters and a bounded JSON body. */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpError, HttpServer, JsonReply, matchPath } from '../../../server/http/http-server.js';
import { tempDir } from '../../helpers/kilowatch-process.js';

let server: HttpServer;
let base: string;

beforeAll(async () => {
  server = new HttpServer({
    host: '127.0.0.1', port: 0, webDir: tempDir('web'), maxBodyBytes: 1024, onUpgrade: (_req, socket) => socket.destroy(),
    routes: { '/api/v1/things': (url) => ({ list: true, q: url.searchParams.get('q') }) },
    methodRoutes: [
      { method: 'POST', path: '/api/v1/things', handle: ({ body }) => new JsonReply(201, { created: body }) },
      { method: 'GET', path: '/api/v1/things/{id}', handle: async ({ params }) => ({ id: params.id }) },
      { method: 'POST', path: '/api/v1/things/{id}/end', handle: ({ params, body }) => ({ ended: params.id, body: body ?? null }) },
      { method: 'GET', path: '/api/v1/fail/{id}', handle: () => { throw new HttpError(404, 'no such thing', ['id: unknown']); } },
    ],
  });
  base = await server.start();
});

afterAll(() => server.stop());

async function call(method: string, path: string, body?: string) {
  const res = await fetch(`${base}${path}`, { method, ...(body !== undefined && { body, headers: { 'content-type': 'application/json' } }) });
  return { status: res.status, allow: res.headers.get('allow'), body: (await res.json()) as any };
}

describe('HttpServer routes', () => {
  it('keeps exact GET routes, and answers POST routes with their own status', async () => {
    expect(await call('GET', '/api/v1/things?q=1')).toMatchObject({ status: 200, body: { list: true, q: '1' } });
    expect(await call('POST', '/api/v1/things', '{"a":1}')).toMatchObject({ status: 201, body: { created: { a: 1 } } });
    expect(await call('POST', '/api/v1/things/x/end')).toMatchObject({ status: 200, body: { ended: 'x', body: null } });
  });

  it('percent-decodes path parameters after splitting, so %2F stays inside one id', async () => {
    expect((await call('GET', '/api/v1/things/1234+0')).body).toEqual({ id: '1234+0' });
    expect((await call('GET', '/api/v1/things/a%2Fb%20c')).body).toEqual({ id: 'a/b c' });
    expect(await call('GET', '/api/v1/things/%E0%A4%A')).toMatchObject({ status: 400, body: { problems: ['id: "%E0%A4%A" is not valid percent-encoding'] } });
    expect(matchPath('/a/{id}/end', '/a//end')).toBeUndefined();
    expect(matchPath('/a/{id}', '/a/b/c')).toBeUndefined();
  });

  it('says 404 for an unknown path and 405 with Allow for a known path with another method', async () => {
    expect(await call('GET', '/api/v1/nothing')).toMatchObject({ status: 404, body: { error: 'no such endpoint: /api/v1/nothing' } });
    expect(await call('DELETE', '/api/v1/things')).toMatchObject({ status: 405, allow: 'GET, POST', body: { error: 'DELETE is not allowed on /api/v1/things' } });
    expect(await call('GET', '/api/v1/things/x/end')).toMatchObject({ status: 405, allow: 'POST' });
    expect(await call('GET', '/api/v1/fail/x')).toEqual({ status: 404, allow: null, body: { error: 'no such thing', problems: ['id: unknown'] } });
  });

  it('refuses a body that is not JSON (400) or too large (413), declared or streamed', async () => {
    expect(await call('POST', '/api/v1/things', '{"a":')).toMatchObject({ status: 400, body: { error: 'the body is not JSON' } });
    expect(await call('POST', '/api/v1/things', JSON.stringify({ pad: 'x'.repeat(2000) }))).toMatchObject({ status: 413, body: { error: 'the body is 2010 bytes, more than 1024' } });
    // Chunked, with no content-length: counted as it arrives.
    const streamed = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = request(`${base}/api/v1/things`, { method: 'POST', headers: { 'transfer-encoding': 'chunked' } }, (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode!, text }));
      });
      req.on('error', reject);
      for (let i = 0; i < 4; i++) req.write('x'.repeat(500));
      req.end();
    });
    expect(streamed).toEqual({ status: 413, text: JSON.stringify({ error: 'the body is more than 1024 bytes', problems: [] }) });
  });
});
