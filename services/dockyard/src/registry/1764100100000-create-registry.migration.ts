import type { MigrationInterface, QueryRunner } from 'typeorm';
import { migrationTypes } from '@co/eventstore';

/**
 * The registry's metadata. Blob and manifest bytes live in the BlobStore under their
 * digests; these tables say which repository holds what:
 * - repositories: one row per `<workspace>/<repo>`, with the workspace's organization
 *   and project copied in at creation (quota usage is summed per organization/project);
 * - blobs: every blob the registry accepted, with its size (the GC's inventory);
 * - repository_blobs: which blobs a repository may serve (pushed, mounted or a
 *   manifest's own bytes) — a blob is only visible through a repository it is linked to;
 * - manifests, tags, manifest_blobs (config and layers of an image manifest),
 *   manifest_children (the manifests of an index);
 * - uploads: uploads in progress, so that one resumes by its id after a restart.
 */
export class CreateRegistry1764100100000 implements MigrationInterface {
  name = 'CreateRegistry1764100100000';

  async up(runner: QueryRunner): Promise<void> {
    const { table, text, time, id, name } = migrationTypes(runner);
    await runner.query(`
      CREATE TABLE dockyard_repositories (
        name ${name} NOT NULL PRIMARY KEY,
        workspace ${name} NOT NULL,
        org ${name} NOT NULL,
        project ${name} NOT NULL,
        created_at ${time} NOT NULL,
        updated_at ${time} NOT NULL
      )${table}`);
    await runner.query('CREATE INDEX ix_dockyard_repositories_workspace ON dockyard_repositories (workspace)');
    await runner.query('CREATE INDEX ix_dockyard_repositories_place ON dockyard_repositories (org, project)');
    await runner.query(`
      CREATE TABLE dockyard_blobs (
        digest ${name} NOT NULL PRIMARY KEY,
        size BIGINT NOT NULL,
        created_at ${time} NOT NULL
      )${table}`);
    await runner.query(`
      CREATE TABLE dockyard_repository_blobs (
        repository ${name} NOT NULL,
        digest ${name} NOT NULL,
        size BIGINT NOT NULL,
        created_at ${time} NOT NULL,
        PRIMARY KEY (repository, digest)
      )${table}`);
    await runner.query('CREATE INDEX ix_dockyard_repository_blobs_digest ON dockyard_repository_blobs (digest)');
    await runner.query(`
      CREATE TABLE dockyard_manifests (
        repository ${name} NOT NULL,
        digest ${name} NOT NULL,
        media_type ${name} NOT NULL,
        artifact_type ${name} NULL,
        config_media_type ${name} NULL,
        subject_digest ${name} NULL,
        annotations ${text} NULL,
        size BIGINT NOT NULL,
        total_size BIGINT NOT NULL,
        pulls BIGINT NOT NULL DEFAULT 0,
        created_at ${time} NOT NULL,
        PRIMARY KEY (repository, digest)
      )${table}`);
    await runner.query('CREATE INDEX ix_dockyard_manifests_subject ON dockyard_manifests (repository, subject_digest)');
    await runner.query(`
      CREATE TABLE dockyard_tags (
        repository ${name} NOT NULL,
        tag VARCHAR(128) NOT NULL,
        digest ${name} NOT NULL,
        pulls BIGINT NOT NULL DEFAULT 0,
        created_at ${time} NOT NULL,
        updated_at ${time} NOT NULL,
        PRIMARY KEY (repository, tag)
      )${table}`);
    await runner.query('CREATE INDEX ix_dockyard_tags_digest ON dockyard_tags (repository, digest)');
    await runner.query(`
      CREATE TABLE dockyard_manifest_blobs (
        repository ${name} NOT NULL,
        manifest_digest ${name} NOT NULL,
        blob_digest ${name} NOT NULL,
        PRIMARY KEY (repository, manifest_digest, blob_digest)
      )${table}`);
    await runner.query('CREATE INDEX ix_dockyard_manifest_blobs_blob ON dockyard_manifest_blobs (blob_digest)');
    await runner.query(`
      CREATE TABLE dockyard_manifest_children (
        repository ${name} NOT NULL,
        manifest_digest ${name} NOT NULL,
        child_digest ${name} NOT NULL,
        PRIMARY KEY (repository, manifest_digest, child_digest)
      )${table}`);
    await runner.query('CREATE INDEX ix_dockyard_manifest_children_child ON dockyard_manifest_children (repository, child_digest)');
    await runner.query(`
      CREATE TABLE dockyard_uploads (
        id ${id} NOT NULL PRIMARY KEY,
        repository ${name} NOT NULL,
        size BIGINT NOT NULL,
        started_at ${time} NOT NULL,
        updated_at ${time} NOT NULL
      )${table}`);
  }

  async down(runner: QueryRunner): Promise<void> {
    for (const table of [
      'dockyard_uploads',
      'dockyard_manifest_children',
      'dockyard_manifest_blobs',
      'dockyard_tags',
      'dockyard_manifests',
      'dockyard_repository_blobs',
      'dockyard_blobs',
      'dockyard_repositories',
    ]) {
      await runner.query(`DROP TABLE ${table}`);
    }
  }
}
