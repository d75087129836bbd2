/**
 * Positions of a replayable log already stored, as sorted, disjoint, inclusive ranges
 * (`[[0, 120]]` once lines 0 to 120 are in). Ranges rather than a high-water mark: a
 * message redelivered after later ones must not lose its lines.
 */
export type Ranges = [number, number][];

export function hasPosition(ranges: Ranges, position: number): boolean {
  let low = 0;
  let high = ranges.length - 1;
  while (low <= high) {
    const middle = (low + high) >> 1;
    const [from, to] = ranges[middle];
    if (position < from) high = middle - 1;
    else if (position > to) low = middle + 1;
    else return true;
  }
  return false;
}

/** A new list with `position` added (neighbouring ranges merged). */
export function addPosition(ranges: Ranges, position: number): Ranges {
  const result: Ranges = [];
  let placed = false;
  for (const [from, to] of ranges) {
    if (!placed && position < from - 1) {
      result.push([position, position]);
      placed = true;
    }
    if (!placed && position >= from - 1 && position <= to + 1) {
      result.push([Math.min(from, position), Math.max(to, position)]);
      placed = true;
      continue;
    }
    const last = result[result.length - 1];
    if (last && from <= last[1] + 1) last[1] = Math.max(last[1], to);
    else result.push([from, to]);
  }
  if (!placed) result.push([position, position]);
  return result;
}

export function parseRanges(text: string): Ranges {
  const value = JSON.parse(text) as unknown;
  return Array.isArray(value) ? (value as Ranges) : [];
}

/**
 * Adds `position` to `ranges` in place (the caller owns the list). A replayable log
 * mostly arrives in order: extending or following the last range costs O(1).
 */
export function addPositionInPlace(ranges: Ranges, position: number): void {
  const last = ranges[ranges.length - 1];
  if (!last || position > last[1] + 1) {
    ranges.push([position, position]);
  } else if (position === last[1] + 1) {
    last[1] = position;
  } else {
    const merged = addPosition(ranges, position);
    ranges.length = 0;
    for (const range of merged) ranges.push(range);
  }
}
