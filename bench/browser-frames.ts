/**
 * The live-latency row's receiving end in a real browser: Debian's Chromium,
 * headless, driven by playwright-core, opens the server's live WebSocket,
 * subscribes to the fleet view, and notes when each frame arrived (Date.now(),
 * the same clock the load generator stamps its publishes with) and the buckets
 * it carried. The bench fetches the notes at the end, so measuring adds
 * nothing to the page's work but a push per frame. Without Chromium it fails
 * and says how to install it: the row never falls back silently.
 */
import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

export interface Frame {
  at: number;
  buckets: number[];
}

export interface BrowserFrames {
  /** Stops listening and returns every fleet frame the page received. */
  stop(): Promise<Frame[]>;
}

/** `httpUrl`: the server's base URL; the page loads from it, so its WebSocket is same-origin, as the UI's is. */
export async function browserFleetFrames(httpUrl: string): Promise<BrowserFrames> {
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}: install it with \`apt-get install chromium\` (Debian); the live-latency row is measured in a browser`);
  const browser: Browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  try {
    const page = await browser.newPage();
    await page.goto(`${httpUrl}/api/v1/health`);
    await page.evaluate(
      (wsUrl) =>
        new Promise<void>((resolve, reject) => {
          const frames: { at: number; buckets: number[] }[] = [];
          (globalThis as unknown as { kwFrames: typeof frames }).kwFrames = frames;
          const ws = new WebSocket(wsUrl);
          ws.onmessage = (e) => {
            const at = Date.now();
            const m = JSON.parse(e.data as string) as { type: string; view?: string; columns?: number[][] };
            if (m.type === 'data' && m.view === 'fleet') frames.push({ at, buckets: m.columns?.[0] ?? [] });
          };
          ws.onopen = () => {
            ws.send(JSON.stringify({ type: 'subscribe', view: 'fleet' }));
            resolve();
          };
          ws.onerror = () => reject(new Error(`WebSocket ${wsUrl} failed`));
        }),
      `${httpUrl.replace(/^http/, 'ws')}/api/v1/live`,
    );
    return {
      async stop() {
        try {
          return await page.evaluate(() => (globalThis as unknown as { kwFrames: Frame[] }).kwFrames);
        } finally {
          await browser.close();
        }
      },
    };
  } catch (err) {
    await browser.close();
    throw err;
  }
}
