import { addPosition, addPositionInPlace, hasPosition, type Ranges } from './origin-ranges';

describe('origin ranges', () => {
  const add = (ranges: Ranges, ...positions: number[]) => positions.reduce((acc, position) => addPosition(acc, position), ranges);

  it('merges neighbours and keeps gaps', () => {
    expect(add([], 0, 1, 2)).toEqual([[0, 2]]);
    expect(add([], 5, 0, 2)).toEqual([[0, 0], [2, 2], [5, 5]]);
    expect(add([], 0, 2, 1)).toEqual([[0, 2]]);
    expect(add([[0, 3], [6, 9]], 5, 4)).toEqual([[0, 9]]);
  });

  it('knows a redelivered earlier message is new when only later lines are stored', () => {
    const stored = add([], 10, 11, 12);
    expect(hasPosition(stored, 11)).toBe(true);
    expect(hasPosition(stored, 3)).toBe(false);
    expect(hasPosition(stored, 13)).toBe(false);
  });

  it('adds in place as addPosition does, in order or not', () => {
    for (const positions of [[0, 1, 2, 3], [5, 0, 2], [0, 2, 1], [9, 3, 4, 7, 8, 5, 6], [1, 1, 0]]) {
      const inPlace: Ranges = [[20, 22]];
      for (const position of positions) addPositionInPlace(inPlace, position);
      expect(inPlace).toEqual(add([[20, 22]], ...positions));
    }
  });
});
