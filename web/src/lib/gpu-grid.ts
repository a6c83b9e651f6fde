/**
 * Where each GPU's cell goes on the Hosts page canvas: one block per host
 * (its GPUs in rows of up to 8, the host's name above when there is room),
 * blocks flowing left to right and wrapping. The cell size is the largest
 * that keeps the whole fleet within `maxHeight`, so 64 GPUs get big cells
 * with labels and 1,000 still fit one screen with a cell each (14 px at
 * 1,200 px wide). Pure; tested in test/web/gpu-grid.test.ts.
 */

export interface GridBlock {
  /** Index into the host list given to the layout. */
  host: number;
  x: number;
  y: number;
  width: number;
  height: number;
  cols: number;
  /** Index of the block's first cell in the flat cell order (the hosts' GPUs in order). */
  first: number;
  count: number;
}

export interface GridLayout {
  cell: number;
  gap: number;
  /** Label band above each block; 0 when cells are too small for text to fit beside them. */
  label: number;
  width: number;
  height: number;
  blocks: GridBlock[];
  /** Top-left corner of every cell, in the flat order. */
  cellX: number[];
  cellY: number[];
}

export interface GridOptions {
  maxHeight: number;
  minCell?: number;
  maxCell?: number;
  perRow?: number;
}

const GAP = 2;
const LABEL = 15;

function place(counts: readonly number[], width: number, cell: number, perRow: number): Omit<GridLayout, 'width'> {
  const label = cell >= 16 ? LABEL : 0;
  const hostGap = Math.max(6, Math.round(cell / 2));
  const blocks: GridBlock[] = [];
  const cellX: number[] = [];
  const cellY: number[] = [];
  let x = 0;
  let y = 0;
  let rowHeight = 0;
  let first = 0;
  counts.forEach((count, host) => {
    const cols = Math.max(1, Math.min(perRow, count));
    const rows = Math.max(1, Math.ceil(count / perRow));
    const w = cols * cell + (cols - 1) * GAP;
    const h = label + rows * cell + (rows - 1) * GAP;
    if (x > 0 && x + w > width) {
      x = 0;
      y += rowHeight + hostGap;
      rowHeight = 0;
    }
    blocks.push({ host, x, y, width: w, height: h, cols, first, count });
    for (let i = 0; i < count; i++) {
      cellX.push(x + (i % cols) * (cell + GAP));
      cellY.push(y + label + Math.floor(i / cols) * (cell + GAP));
    }
    first += count;
    x += w + hostGap;
    rowHeight = Math.max(rowHeight, h);
  });
  return { cell, gap: GAP, label, height: y + rowHeight, blocks, cellX, cellY };
}

/** `counts`: GPUs per host, in display order. */
export function gridLayout(counts: readonly number[], width: number, opts: GridOptions): GridLayout {
  const min = opts.minCell ?? 8;
  const max = opts.maxCell ?? 34;
  const perRow = opts.perRow ?? 8;
  let best = place(counts, width, min, perRow);
  for (let cell = max; cell > min; cell--) {
    const p = place(counts, width, cell, perRow);
    if (p.height <= opts.maxHeight) {
      best = p;
      break;
    }
  }
  return { ...best, width };
}

/** The cell under a point, as its flat index, or null between cells and outside. */
export function hitTest(layout: GridLayout, x: number, y: number): number | null {
  const step = layout.cell + layout.gap;
  for (const b of layout.blocks) {
    const top = b.y + layout.label;
    if (x < b.x || x >= b.x + b.width || y < top || y >= b.y + b.height) continue;
    const col = Math.floor((x - b.x) / step);
    const row = Math.floor((y - top) / step);
    // In the gap between two cells: nothing.
    if (x - b.x - col * step >= layout.cell || y - top - row * step >= layout.cell) return null;
    const i = row * b.cols + col;
    return i < b.count ? b.first + i : null;
  }
  return null;
}

/**
 * The cell an arrow key moves to from `index`: left and right along the flat
 * order; up and down to the nearest cell (by centre) in the line of cells
 * above or below, across blocks.
 */
export function moveFocus(layout: GridLayout, index: number, key: string): number {
  const n = layout.cellX.length;
  if (n === 0) return -1;
  const i = Math.min(n - 1, Math.max(0, index));
  if (key === 'ArrowRight') return Math.min(n - 1, i + 1);
  if (key === 'ArrowLeft') return Math.max(0, i - 1);
  if (key === 'Home') return 0;
  if (key === 'End') return n - 1;
  if (key !== 'ArrowUp' && key !== 'ArrowDown') return i;
  const y = layout.cellY[i]!;
  const x = layout.cellX[i]!;
  const down = key === 'ArrowDown';
  // The nearest line of cells in that direction...
  let lineY: number | null = null;
  for (let j = 0; j < n; j++) {
    const cy = layout.cellY[j]!;
    if (down ? cy > y && (lineY === null || cy < lineY) : cy < y && (lineY === null || cy > lineY)) lineY = cy;
  }
  if (lineY === null) return i;
  // ...and on it, the cell closest in x.
  let best = i;
  let bestDx = Infinity;
  for (let j = 0; j < n; j++) {
    if (layout.cellY[j] !== lineY) continue;
    const dx = Math.abs(layout.cellX[j]! - x);
    if (dx < bestDx) {
      bestDx = dx;
      best = j;
    }
  }
  return best;
}
