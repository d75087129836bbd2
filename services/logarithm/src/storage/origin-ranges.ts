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
