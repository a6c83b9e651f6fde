import { describe, expect, it } from 'vitest';
import { gridLayout, hitTest, moveFocus } from '../../web/src/lib/gpu-grid.js';

describe('gridLayout', () => {
  it('gives 64 GPUs (8 hosts x 8) large cells with host labels', () => {
    const l = gridLayout(Array(8).fill(8), 1200, { maxHeight: 420 });
    expect(l.cell).toBe(34);
    expect(l.label).toBeGreaterThan(0);
    expect(l.cellX).toHaveLength(64);
    expect(l.height).toBeLessThanOrEqual(420);
  });

  it('keeps 1,000 GPUs on one screen with a readable cell each', () => {
    const l = gridLayout(Array(125).fill(8), 1200, { maxHeight: 420 });
    expect(l.cellX).toHaveLength(1000);
    expect(l.height).toBeLessThanOrEqual(420);
    expect(l.cell).toBeGreaterThanOrEqual(12);
    // No two cells overlap, and every cell lies inside the canvas.
    const seen = new Set<string>();
    for (let i = 0; i < 1000; i++) {
      expect(l.cellX[i]! + l.cell).toBeLessThanOrEqual(1200);
      seen.add(`${l.cellX[i]},${l.cellY[i]}`);
    }
    expect(seen.size).toBe(1000);
  });

  it('wraps hosts with more than 8 GPUs onto more rows, and takes the smallest cell when nothing fits', () => {
    const l = gridLayout([16, 3], 1000, { maxHeight: 10_000 });
    expect(l.blocks[0]).toMatchObject({ cols: 8, count: 16, first: 0 });
    expect(l.blocks[1]).toMatchObject({ cols: 3, count: 3, first: 16 });
    expect(l.cellY[8]).toBeGreaterThan(l.cellY[0]!);
    const tiny = gridLayout(Array(5000).fill(8), 300, { maxHeight: 100 });
    expect(tiny.cell).toBe(8);
  });
});

describe('hitTest', () => {
  const l = gridLayout([8, 8], 1200, { maxHeight: 420 });

  it('finds the cell under a point, and nothing in the gaps or outside', () => {
    for (const i of [0, 5, 8, 15]) expect(hitTest(l, l.cellX[i]! + 1, l.cellY[i]! + 1)).toBe(i);
    expect(hitTest(l, l.cellX[0]! + l.cell + 1, l.cellY[0]! + 1)).toBeNull();
    expect(hitTest(l, 5, 2)).toBeNull(); // the label band
    expect(hitTest(l, 1199, 400)).toBeNull();
  });
});

describe('moveFocus', () => {
  const l = gridLayout([8, 8, 8, 8, 8], 1200, { maxHeight: 420 }); // 4 blocks on the first line, 1 on the second

  it('steps along the order, and up and down to the nearest cell on the next line', () => {
    expect(moveFocus(l, 0, 'ArrowRight')).toBe(1);
    expect(moveFocus(l, 0, 'ArrowLeft')).toBe(0);
    expect(moveFocus(l, 3, 'ArrowDown')).toBe(32 + 3);
    expect(moveFocus(l, 35, 'ArrowUp')).toBe(3);
    expect(moveFocus(l, 35, 'ArrowDown')).toBe(35);
    expect(moveFocus(l, 10, 'End')).toBe(39);
    expect(moveFocus(l, 10, 'Home')).toBe(0);
  });
});
