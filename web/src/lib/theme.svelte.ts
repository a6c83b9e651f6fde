/**
 * Light or dark: the system's choice (prefers-color-scheme) until the user
 * picks one, which this browser then keeps (localStorage). The resolved
 * theme is `data-theme` on <html>; app.css keys its colour tokens on it.
 * index.html sets the attribute before the first paint, so a dark screen
 * does not flash white while the app loads; this class keeps it current.
 *
 * Canvas charts read their colours from the tokens when they are drawn, so a
 * change is announced with THEME_EVENT and they redraw (lib/mount-plot.ts,
 * the GPU grid).
 */
import { isPreference, resolveTheme, type ResolvedTheme, type ThemePreference } from './display.js';

export type { ResolvedTheme, ThemePreference } from './display.js';

export const THEME_KEY = 'kilowatch.theme';
export const THEME_EVENT = 'kilowatch:theme';

function load(): ThemePreference {
  try {
    const v = window.localStorage.getItem(THEME_KEY);
    return isPreference(v) ? v : 'system';
  } catch {
    return 'system';
  }
}

function save(p: ThemePreference): void {
  try {
    if (p === 'system') window.localStorage.removeItem(THEME_KEY);
    else window.localStorage.setItem(THEME_KEY, p);
  } catch {
    // Storage blocked (private window): the choice lasts as long as the page.
  }
}

export class Theme {
  preference = $state<ThemePreference>('system');
  resolved = $state<ResolvedTheme>('light');

  #media: MediaQueryList | null = null;
  readonly #onSystemChange = () => this.#apply();

  start(): void {
    this.preference = load();
    this.#media = window.matchMedia('(prefers-color-scheme: dark)');
    this.#media.addEventListener('change', this.#onSystemChange);
    this.#apply();
  }

  stop(): void {
    this.#media?.removeEventListener('change', this.#onSystemChange);
    this.#media = null;
  }

  set(preference: ThemePreference): void {
    this.preference = preference;
    save(preference);
    this.#apply();
  }

  /** The top bar's button: the other theme, kept from now on. */
  toggle(): void {
    this.set(this.resolved === 'dark' ? 'light' : 'dark');
  }

  #apply(): void {
    const next = resolveTheme(this.preference, this.#media?.matches ?? false);
    const changed = next !== document.documentElement.dataset.theme;
    this.resolved = next;
    document.documentElement.dataset.theme = next;
    if (changed) window.dispatchEvent(new Event(THEME_EVENT));
  }
}
