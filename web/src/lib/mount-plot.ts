/**
 * A uPlot living in an element: created at the element's size, kept at it
 * as the layout changes, destroyed with it. Every chart mounts this way; the
 * returned function is the attachment's teardown.
 *
 * uPlot takes its colours as strings when it is built, and they come from the
 * theme's CSS tokens, so a theme change (THEME_EVENT) builds the plot again
 * with the data it holds. That is the one exception to "created once": it
 * happens when the user switches theme, never on a data update.
 */
import uPlot from 'uplot';
import { THEME_EVENT } from './theme.svelte.js';

export function mountPlot(
  el: HTMLElement,
  options: (width: number, height: number) => uPlot.Options,
  data: uPlot.AlignedData,
  onPlot: (plot: uPlot | null) => void,
): () => void {
  const size = () => ({ width: Math.max(1, Math.floor(el.clientWidth)), height: Math.max(1, Math.floor(el.clientHeight)) });
  const { width, height } = size();
  let u = new uPlot(options(width, height), data, el);
  onPlot(u);
  const observer = new ResizeObserver(() => {
    const next = size();
    if (next.width !== u.width || next.height !== u.height) u.setSize(next);
  });
  observer.observe(el);
  const rebuild = () => {
    const held = u.data;
    u.destroy();
    const s = size();
    u = new uPlot(options(s.width, s.height), held, el);
    onPlot(u);
  };
  window.addEventListener(THEME_EVENT, rebuild);
  return () => {
    window.removeEventListener(THEME_EVENT, rebuild);
    observer.disconnect();
    u.destroy();
    onPlot(null);
  };
}
