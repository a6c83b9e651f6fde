import { describe, expect, it } from 'vitest';
import { isPreference, kioskRequested, resolveTheme, withoutKiosk } from '../../web/src/lib/display.js';

describe('theme', () => {
  it('follows the system until a theme is chosen', () => {
    expect(resolveTheme('system', true)).toBe('dark');
    expect(resolveTheme('system', false)).toBe('light');
    expect(resolveTheme('light', true)).toBe('light');
    expect(resolveTheme('dark', false)).toBe('dark');
  });

  it('accepts only the three stored values', () => {
    expect(['system', 'light', 'dark'].every(isPreference)).toBe(true);
    expect(isPreference('sepia')).toBe(false);
    expect(isPreference(null)).toBe(false);
  });
});

describe('kiosk', () => {
  it('is asked for with ?kiosk=1', () => {
    expect(kioskRequested('?kiosk=1')).toBe(true);
    expect(kioskRequested('?a=b&kiosk=1')).toBe(true);
    expect(kioskRequested('?kiosk=0')).toBe(false);
    expect(kioskRequested('')).toBe(false);
  });

  it('leaving it drops the parameter and keeps the rest of the address', () => {
    expect(withoutKiosk('http://127.0.0.1:8080/?kiosk=1#/')).toBe('http://127.0.0.1:8080/#/');
    expect(withoutKiosk('http://h/p/?a=b&kiosk=1#/jobs')).toBe('http://h/p/?a=b#/jobs');
  });
});
