import type { AccessControl } from '@co/auth';
import type { Workspace } from '../workspaces/workspaces.service';
import { OciError } from './oci-errors';
import type { RegistryMetadata } from './registry-metadata';
import { RegistryQuota } from './registry-quota';

const workspace: Workspace = {
  name: 'team',
  org: 'acme',
  project: 'web',
  visibility: 'private',
  description: '',
  createdBy: 'alice',
  createdAt: new Date(0).toISOString(),
  updatedAt: new Date(0).toISOString(),
};

describe('RegistryQuota', () => {
  const saved = process.env.CO_AUTHZ_CACHE_SECONDS;
  let limits: { org: { maxRegistryBytes?: number }; project: { maxRegistryBytes?: number } };
  let used: Record<string, number>;
  const quota = jest.fn(async () => limits);
  const usage = jest.fn(async (org: string, project?: string) => used[project === undefined ? org : `${org}/${project}`] ?? 0);

  function make(cacheSeconds: string): RegistryQuota {
    process.env.CO_AUTHZ_CACHE_SECONDS = cacheSeconds;
    return new RegistryQuota({ quota } as unknown as AccessControl, { usage } as unknown as RegistryMetadata);
  }

  beforeEach(() => {
    quota.mockClear();
    usage.mockClear();
    limits = { org: {}, project: {} };
    used = {};
  });

  afterAll(() => {
    if (saved === undefined) delete process.env.CO_AUTHZ_CACHE_SECONDS;
    else process.env.CO_AUTHZ_CACHE_SECONDS = saved;
  });

  it('answers no limit without counting usage when crew sets none', async () => {
    await expect(make('0').check(workspace, 10)).resolves.toBeUndefined();
    expect(usage).not.toHaveBeenCalled();
  });

  it('returns the smaller room left and refuses what exceeds the organization first', async () => {
    limits = { org: { maxRegistryBytes: 1000 }, project: { maxRegistryBytes: 500 } };
    used = { acme: 600, 'acme/web': 300 };
    const registry = make('0');
    await expect(registry.check(workspace, 100)).resolves.toBe(200);
    const refused = await registry.check(workspace, 450).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(OciError);
    expect((refused as OciError).code).toBe('DENIED');
    expect((refused as OciError).message).toContain("organization acme's registry quota of 1000 bytes");
    used = { acme: 0, 'acme/web': 300 };
    await expect(registry.check(workspace, 450)).rejects.toThrow("project acme/web's registry quota of 500 bytes");
  });

  it("reuses crew's limits for CO_AUTHZ_CACHE_SECONDS but counts usage every time", async () => {
    limits = { org: { maxRegistryBytes: 1000 }, project: {} };
    used = { acme: 100 };
    const registry = make('10');
    await expect(registry.check(workspace, 0)).resolves.toBe(900);
    used = { acme: 950 };
    await expect(registry.check(workspace, 100)).rejects.toThrow(OciError);
    expect(quota).toHaveBeenCalledTimes(1);
    expect(usage).toHaveBeenCalledTimes(2);
  });

  it('asks crew at every check when the cache is off', async () => {
    const registry = make('0');
    await registry.check(workspace, 0);
    await registry.check(workspace, 0);
    expect(quota).toHaveBeenCalledTimes(2);
  });
});
