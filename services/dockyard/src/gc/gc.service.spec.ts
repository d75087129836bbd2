import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { Database, sqlTime } from '@co/eventstore';
import type { ServiceRuntime } from '@co/service-kit';
import { CreateBinaries1764100300000 } from '../binaries/1764100300000-create-binaries.migration';
import { CreateCharts1764100200000 } from '../charts/1764100200000-create-charts.migration';
import { loadDockyardSettings } from '../dockyard-settings';
import { CreateRegistry1764100100000 } from '../registry/1764100100000-create-registry.migration';
import { FilesystemBlobStore } from '../storage/filesystem.blob-store';
import { CreateGc1764100400000 } from './1764100400000-create-gc.migration';
import { GcService } from './gc.service';

/** The collection's SQL on SQLite (the e2e tests run it on MariaDB). */
describe('GcService on SQLite', () => {
  let root: string;
  let db: Database;
  let store: FilesystemBlobStore;
  let gc: GcService;
  const append = jest.fn();
  const old = new Date(Date.now() - 3 * 3_600_000);

  async function blob(content: string, aged = true): Promise<string> {
    const { digest } = await store.put(Readable.from([content]));
    if (aged) {
      const hex = digest.slice('sha256:'.length);
      await utimes(path.join(root, 'blobs', 'sha256', hex.slice(0, 2), hex), old, old);
    }
    return digest;
  }

  beforeEach(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'gc-'));
    store = new FilesystemBlobStore(root);
    await store.initialize();
    db = await Database.open({ url: 'sqlite::memory:', migrations: [CreateRegistry1764100100000, CreateCharts1764100200000, CreateBinaries1764100300000, CreateGc1764100400000] });
    const settings = { ...loadDockyardSettings({}, root), gcGraceMinutes: 60, uploadExpiryHours: 1 };
    gc = new GcService({ db, store: { append } } as unknown as ServiceRuntime, settings, store);
    append.mockReset();
  });

  afterEach(async () => {
    await db.dataSource.destroy();
    await rm(root, { recursive: true, force: true });
  });

  it('keeps what metadata references and what is young, deletes the rest with its rows, and keeps reports', async () => {
    const now = sqlTime(db, new Date());
    const layer = await blob('layer');
    const manifest = await blob('manifest');
    const chart = await blob('chart');
    const prov = await blob('prov');
    const binary = await blob('binary');
    const garbage = await blob('garbage');
    const young = await blob('young', false);
    await db.query('INSERT INTO dockyard_manifests (repository, digest, media_type, size, total_size, created_at) VALUES (?, ?, ?, 8, 13, ?)', ['ws/app', manifest, 'x', now]);
    await db.query('INSERT INTO dockyard_manifest_blobs (repository, manifest_digest, blob_digest) VALUES (?, ?, ?)', ['ws/app', manifest, layer]);
    await db.query(
      "INSERT INTO dockyard_charts (workspace, name, version, org, project, digest, size, metadata, prov_digest, prov_size, created_by, created_at) VALUES ('ws', 'c', '1.0.0', 'o', 'p', ?, 5, '{}', ?, 4, 'a', ?)",
      [chart, prov, now],
    );
    await db.query(
      "INSERT INTO dockyard_binaries (workspace, repository, tag, file, org, project, digest, size, created_by, created_at, updated_at) VALUES ('ws', 'r', 't', 'f', 'o', 'p', ?, 6, 'a', ?, ?)",
      [binary, now, now],
    );
    await db.query('INSERT INTO dockyard_repository_blobs (repository, digest, size, created_at) VALUES (?, ?, 7, ?)', ['ws/app', garbage, now]);

    const dry = await gc.run({ dryRun: true, trigger: 'manual', startedBy: 'admin' });
    expect(dry).toMatchObject({ dryRun: true, blobsScanned: 7, blobsDeleted: 1, bytesFreed: 7, blobs: [{ digest: garbage, size: 7 }] });
    expect(await store.stat(garbage)).toBeDefined();
    expect(append).not.toHaveBeenCalled();

    const real = await gc.run({ dryRun: false, trigger: 'schedule', startedBy: 'schedule' });
    expect(real).toMatchObject({ dryRun: false, blobsDeleted: 1, bytesFreed: 7 });
    expect(await store.stat(garbage)).toBeUndefined();
    for (const kept of [layer, manifest, chart, prov, binary, young]) expect(await store.stat(kept)).toBeDefined();
    expect(await db.query('SELECT * FROM dockyard_repository_blobs WHERE digest = ?', [garbage])).toEqual([]);
    expect(append).toHaveBeenCalledWith(expect.stringMatching(/^gc-\d{8}$/), 'any', [expect.objectContaining({ type: 'GarbageCollected' })], { actor: 'schedule' });

    const reports = await gc.reports(5);
    expect(reports.map((report) => [report.id, report.dryRun, report.trigger])).toEqual([
      [real.id, false, 'schedule'],
      [dry.id, true, 'manual'],
    ]);
  });

  it('removes uploads untouched past the expiry, with their rows, and rows whose file is gone', async () => {
    const stale = randomUUID();
    const live = randomUUID();
    const lost = randomUUID();
    for (const id of [stale, live]) await store.startUpload(id);
    await utimes(path.join(root, 'uploads', stale), old, old);
    for (const [id, at] of [
      [stale, old],
      [live, new Date()],
      [lost, old],
    ] as const) {
      await db.query('INSERT INTO dockyard_uploads (id, repository, size, started_at, updated_at) VALUES (?, ?, 0, ?, ?)', [id, 'ws/app', sqlTime(db, at), sqlTime(db, at)]);
    }
    expect((await gc.run({ dryRun: true, trigger: 'manual', startedBy: 'admin' })).uploadsDeleted).toBe(2);
    expect((await gc.run({ dryRun: false, trigger: 'manual', startedBy: 'admin' })).uploadsDeleted).toBe(2);
    expect(await store.uploadSize(stale)).toBeUndefined();
    expect(await store.uploadSize(live)).toBe(0);
    expect((await db.query<{ id: string }[]>('SELECT id FROM dockyard_uploads')).map((row) => row.id)).toEqual([live]);
  });

  it('runs one collection at a time', async () => {
    const first = gc.run({ dryRun: true, trigger: 'manual', startedBy: 'admin' });
    await expect(gc.run({ dryRun: true, trigger: 'manual', startedBy: 'admin' })).rejects.toMatchObject({ code: 'GC.RUNNING' });
    await first;
  });
});
