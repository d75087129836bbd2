import { createHash } from 'node:crypto';
import { InvalidInputError } from '@co/common';
import { expectedDigest } from './binaries.controller';
import { requireBinaryFile, requireBinaryRepository, requireBinaryTag } from './binary-names';

describe('binary artifact requests', () => {
  const hex = createHash('sha256').update('x').digest('hex');

  it('reads the digest from ?digest=, a Digest header in either form, or none', () => {
    expect(expectedDigest(`sha256:${hex}`, undefined)).toBe(`sha256:${hex}`);
    expect(expectedDigest(undefined, `sha256:${hex}`)).toBe(`sha256:${hex}`);
    expect(expectedDigest(undefined, `md5=abc, SHA-256=${Buffer.from(hex, 'hex').toString('base64')}`)).toBe(`sha256:${hex}`);
    expect(expectedDigest(undefined, undefined)).toBeUndefined();
    for (const [query, header] of [
      ['sha256:abc', undefined],
      [`md5:${hex}`, undefined],
      [['a', 'b'], undefined],
      [undefined, 'sha-256=AAAA'],
      [undefined, 'whatever'],
    ] as [unknown, string | undefined][]) {
      expect(() => expectedDigest(query, header)).toThrow(InvalidInputError);
    }
  });

  it('accepts the registry’s names and refuses paths', () => {
    expect(requireBinaryRepository('my-tools')).toBe('my-tools');
    expect(requireBinaryTag('v1.0.0')).toBe('v1.0.0');
    expect(requireBinaryFile('cli-linux_amd64.tar.gz')).toBe('cli-linux_amd64.tar.gz');
    for (const bad of ['..', '.', 'a/b', 'a b', '', 'x'.repeat(256), 'a\\b']) expect(() => requireBinaryFile(bad)).toThrow(InvalidInputError);
    for (const bad of ['Tools', '../x', 'a/b', '-x', '']) expect(() => requireBinaryRepository(bad)).toThrow(InvalidInputError);
    for (const bad of ['.v1', '-v1', 'a/b', '', 'x'.repeat(129)]) expect(() => requireBinaryTag(bad)).toThrow(InvalidInputError);
  });
});
