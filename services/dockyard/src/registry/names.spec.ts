import { parseReference, parseRegistryPath } from './names';
import { OciError } from './oci-errors';

function codeOf(work: () => unknown): string | undefined {
  try {
    work();
    return undefined;
  } catch (error) {
    return error instanceof OciError ? error.code : 'OTHER';
  }
}

describe('registry paths', () => {
  it('reads every endpoint, names with several components included', () => {
    expect(parseRegistryPath('/v2/')).toEqual({ kind: 'base' });
    expect(parseRegistryPath('/v2/ws/app/manifests/v1')).toEqual({ kind: 'manifest', name: 'ws/app', reference: 'v1' });
    expect(parseRegistryPath('/v2/ws/team/app/blobs/uploads/')).toEqual({ kind: 'uploads', name: 'ws/team/app' });
    expect(parseRegistryPath('/v2/ws/app/blobs/uploads/abc')).toEqual({ kind: 'upload', name: 'ws/app', id: 'abc' });
    expect(parseRegistryPath('/v2/ws/app/blobs/sha256:00')).toEqual({ kind: 'blob', name: 'ws/app', digest: 'sha256:00' });
    expect(parseRegistryPath('/v2/ws/app/tags/list')).toEqual({ kind: 'tags', name: 'ws/app' });
    expect(parseRegistryPath('/v2/ws/app/referrers/sha256:00')).toEqual({ kind: 'referrers', name: 'ws/app', digest: 'sha256:00' });
    // A repository may be named like an endpoint: the last one wins.
    expect(parseRegistryPath('/v2/ws/manifests/manifests/v1')).toEqual({ kind: 'manifest', name: 'ws/manifests', reference: 'v1' });
  });

  it('refuses names outside the grammar, traversal and encodings with NAME_INVALID', () => {
    for (const name of ['ws/../x', 'ws/./x', 'ws//x', 'WS/x', 'single', 'ws/a%2Fb', 'ws/-x', 'ws/x-', `ws/${'a'.repeat(200)}`]) {
      expect(codeOf(() => parseRegistryPath(`/v2/${name}/tags/list`))).toBe('NAME_INVALID');
    }
    expect(parseRegistryPath('/v2/ws/app/elsewhere')).toEqual({ kind: 'unknown' });
  });

  it('tells tags from digests and refuses the rest', () => {
    expect(parseReference('v1.0_rc-1')).toEqual({ kind: 'tag', tag: 'v1.0_rc-1' });
    expect(parseReference(`sha256:${'a'.repeat(64)}`)).toEqual({ kind: 'digest', digest: `sha256:${'a'.repeat(64)}` });
    expect(codeOf(() => parseReference('md5:abc'))).toBe('DIGEST_INVALID');
    expect(codeOf(() => parseReference('..'))).toBe('MANIFEST_INVALID');
    expect(codeOf(() => parseReference('a'.repeat(129)))).toBe('MANIFEST_INVALID');
  });
});
