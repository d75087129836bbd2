import { InvalidInputError } from '@co/common';
import type { Direction } from './log-filter';

/** A page boundary: the next page starts strictly after (forward) or before (backward) (ts, seq). */
export interface Cursor {
  direction: Direction;
  ts: bigint;
  seq: bigint;
}

/** Larger than any sequence number: a cursor at (ts, MAX_SEQ) is "after everything at ts". */
export const MAX_SEQ = 9_223_372_036_854_775_807n;

export function encodeCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify([cursor.direction === 'forward' ? 'f' : 'b', cursor.ts.toString(), cursor.seq.toString()])).toString('base64url');
}

export function decodeCursor(text: string, direction: Direction): Cursor {
  try {
    const value = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(value) && value.length === 3 && (value[0] === 'f' || value[0] === 'b') && /^\d+$/.test(value[1]) && /^\d+$/.test(value[2])) {
      const cursor: Cursor = { direction: value[0] === 'f' ? 'forward' : 'backward', ts: BigInt(value[1]), seq: BigInt(value[2]) };
      if (cursor.direction !== direction) {
        throw new InvalidInputError('LOGS.INVALID_CURSOR', `This cursor pages ${cursor.direction}; ask with direction=${cursor.direction} or start again without a cursor.`);
      }
      return cursor;
    }
  } catch (error) {
    if (error instanceof InvalidInputError) throw error;
  }
  throw new InvalidInputError('LOGS.INVALID_CURSOR', 'The cursor is not one this API handed out; pass the "next" value of the previous page unchanged.');
}
