/** A URL for logs and health output: its password, if any, replaced, so a log never carries a credential. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password === '') return url;
    u.password = '***';
    return u.href.replace(/\/$/, '');
  } catch {
    return url;
  }
}
