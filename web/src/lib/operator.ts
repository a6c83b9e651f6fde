/**
 * Who acknowledges and silences: the name typed on the Alerts page, kept in
 * this browser. The server records it as `by` when authentication is off
 * (`local` when empty); with authentication on it records the caller. Storage can be unavailable (private windows,
 * blocked cookies): then the name lasts as long as the page.
 */
const KEY = 'kilowatch.operator';

export function loadOperator(): string {
  try {
    return window.localStorage.getItem(KEY) ?? '';
  } catch {
    return '';
  }
}

export function saveOperator(name: string): void {
  try {
    const v = name.trim();
    if (v) window.localStorage.setItem(KEY, v.slice(0, 64));
    else window.localStorage.removeItem(KEY);
  } catch {
    // Not kept; nothing else depends on it.
  }
}
