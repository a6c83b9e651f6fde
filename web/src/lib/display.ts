/**
 * The pure half of the theme and kiosk settings (lib/theme.svelte.ts,
 * lib/kiosk.svelte.ts): which theme a preference means, and whether the
 * address asks for kiosk mode. Tested in test/web/display.test.ts.
 */
export type ThemePreference = 'system' | 'light' | 'dark';
export type ResolvedTheme = 'light' | 'dark';

export function resolveTheme(preference: ThemePreference, systemDark: boolean): ResolvedTheme {
  if (preference === 'light' || preference === 'dark') return preference;
  return systemDark ? 'dark' : 'light';
}

export function isPreference(x: unknown): x is ThemePreference {
  return x === 'system' || x === 'light' || x === 'dark';
}

export function kioskRequested(search: string): boolean {
  return new URLSearchParams(search).get('kiosk') === '1';
}

/** The address without `kiosk=1`, so a reload after leaving kiosk mode stays out of it. */
export function withoutKiosk(href: string): string {
  const url = new URL(href);
  url.searchParams.delete('kiosk');
  return url.toString();
}
