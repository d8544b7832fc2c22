// Arithmetic of the virtualized message list: item offsets and the range of items to render.

/**
 * Returns the top offset of every item plus the total height as the last entry, so item `i`
 * spans `offsets[i]` to `offsets[i + 1]`. Unmeasured items count as `estimate` pixels.
 */
export function computeOffsets(keys: readonly string[], heights: ReadonlyMap<string, number>, estimate: number): Float64Array {
  const offsets = new Float64Array(keys.length + 1);
  for (let index = 0; index < keys.length; index += 1) {
    offsets[index + 1] = offsets[index]! + (heights.get(keys[index]!) ?? estimate);
  }
  return offsets;
}

/** Index of the item that contains `position`, clamped to the list. */
export function indexAtOffset(offsets: Float64Array, position: number): number {
  const count = offsets.length - 1;
  if (count <= 0) {
    return 0;
  }
  let low = 0;
  let high = count - 1;
  while (low < high) {
    const middle = (low + high + 1) >> 1;
    if (offsets[middle]! <= position) {
      low = middle;
    } else {
      high = middle - 1;
    }
  }
  return low;
}

/** Half-open range `[start, end)` of item indices to render. */
export interface RenderRange {
  start: number;
  end: number;
}

/**
 * Picks the items that overlap the viewport widened by `overscan` pixels on each side, at most
 * `maxItems` of them, so the DOM stays small whatever the list length.
 */
export function computeRange(
  offsets: Float64Array,
  scrollTop: number,
  viewportHeight: number,
  overscan: number,
  maxItems: number,
): RenderRange {
  const count = offsets.length - 1;
  if (count <= 0) {
    return { start: 0, end: 0 };
  }
  const start = indexAtOffset(offsets, Math.max(0, scrollTop - overscan));
  const last = indexAtOffset(offsets, scrollTop + viewportHeight + overscan);
  const end = Math.min(count, last + 1, start + maxItems);
  return { start, end };
}
