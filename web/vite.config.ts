import { fileURLToPath } from 'node:url';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { defineConfig } from 'vite';

// Run from the repo root: `vite build --config web/vite.config.ts`. The root is
// this folder whatever the working directory, and the output lands in
// <repo>/dist/web, which the server serves next to its compiled code.
const root = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root,
  plugins: [
    // No svelte.config.js: the options live here. runes: true makes any
    // legacy (non-rune) component a compile error.
    svelte({ configFile: false, compilerOptions: { runes: true } }),
  ],
  build: {
    outDir: '../dist/web',
    emptyOutDir: true,
    target: 'es2022',
  },
  server: {
    // `vite --config web/vite.config.ts` against a server started with
    // `kilowatch all` on its default port: the page talks to /api on its own
    // host, so the dev server forwards HTTP and the live WebSocket.
    proxy: {
      '/api': { target: 'http://127.0.0.1:8080', ws: true },
    },
  },
});
