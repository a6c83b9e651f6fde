/**
 * A uPlot living in an element: created at the element's size, kept at it
 * as the layout changes, destroyed with it. Both charts mount this way; the
 * returned function is the attachment's teardown.
 */
import uPlot from 'uplot';

export function mountPlot(
  el: HTMLElement,
  options: (width: number, height: number) => uPlot.Options,
  data: uPlot.AlignedData,
  onPlot: (plot: uPlot | null) => void,
): () => void {
  const size = () => ({ width: Math.max(1, Math.floor(el.clientWidth)), height: Math.max(1, Math.floor(el.clientHeight)) });
  const { width, height } = size();
  const u = new uPlot(options(width, height), data, el);
  onPlot(u);
  const observer = new ResizeObserver(() => {
    const next = size();
    if (next.width !== u.width || next.height !== u.height) u.setSize(next);
  });
  observer.observe(el);
  return () => {
    observer.disconnect();
    u.destroy();
    onPlot(null);
  };
}
