/**
 * Serves the built web UI from one directory. Paths are resolved inside that
 * directory only; anything else is a 404. Unknown paths without a file
 * extension get index.html, so client-side routes survive a reload.
 */
import { createReadStream, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
};

export function serveStatic(root: string, req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://local');
  let rel: string;
  try {
    rel = decodeURIComponent(url.pathname);
  } catch {
    return notFound(res);
  }
  const base = normalize(root + sep);
  let file = normalize(join(base, rel));
  if (!file.startsWith(base)) return notFound(res);
  if (rel.endsWith('/')) file = join(file, 'index.html');
  else if (extname(rel) === '') file = join(base, 'index.html'); // a client-side route
  let size: number;
  try {
    const st = statSync(file);
    if (!st.isFile()) return notFound(res);
    size = st.size;
  } catch {
    if (file.endsWith('index.html')) {
      res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(`The web UI is not built (no ${file}). Run: npm run build\n`);
      return;
    }
    return notFound(res);
  }
  res.writeHead(200, {
    'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
    'content-length': size,
    // Vite puts a content hash in asset names, so they may be cached for good.
    'cache-control': file.includes(`${sep}assets${sep}`) ? 'public, max-age=31536000, immutable' : 'no-cache',
  });
  createReadStream(file).pipe(res);
}

function notFound(res: ServerResponse): void {
  res.writeHead(404, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ error: 'not found' }));
}
