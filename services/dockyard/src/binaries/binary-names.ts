import { InvalidInputError } from '@co/common';

/** One path component of a repository name, as the distribution spec has it. */
const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;
const FILE = /^[A-Za-z0-9._-]{1,255}$/;

export function requireBinaryRepository(value: string): string {
  if (value.length > 128 || !COMPONENT.test(value)) {
    throw new InvalidInputError(
      'BINARY.NAME_INVALID',
      `${shown(value)} is not a repository name: lowercase letters and digits separated by ".", "_", "__" or "-", at most 128 characters.`,
    );
  }
  return value;
}

export function requireBinaryTag(value: string): string {
  if (!TAG.test(value)) {
    throw new InvalidInputError('BINARY.TAG_INVALID', `${shown(value)} is not a tag: 1 to 128 letters, digits, "_", "." or "-", not starting with "." or "-".`);
  }
  return value;
}

export function requireBinaryFile(value: string): string {
  if (!FILE.test(value) || value === '.' || value === '..') {
    throw new InvalidInputError('BINARY.FILE_INVALID', `${shown(value)} is not a file name: 1 to 255 letters, digits, ".", "_" or "-", and not "." or "..".`);
  }
  return value;
}

function shown(value: string): string {
  // eslint-disable-next-line no-control-regex
  const clean = String(value).replace(/[\u0000-\u001f\u007f]/g, '?');
  return JSON.stringify(clean.length > 120 ? `${clean.slice(0, 120)}…` : clean);
}
