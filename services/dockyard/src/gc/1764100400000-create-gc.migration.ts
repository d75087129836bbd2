import type { MigrationInterface, QueryRunner } from 'typeorm';
import { migrationTypes } from '@co/eventstore';

/** Reports of garbage collections (the latest hundred are kept), for `GET /api/v1/gc`. */
export class CreateGc1764100400000 implements MigrationInterface {
  name = 'CreateGc1764100400000';

  async up(runner: QueryRunner): Promise<void> {
    const { table, time, id, name } = migrationTypes(runner);
    await runner.query(`
      CREATE TABLE dockyard_gc_runs (
        id ${id} NOT NULL PRIMARY KEY,
        dry_run SMALLINT NOT NULL,
        trigger_kind VARCHAR(16) NOT NULL,
        started_by ${name} NOT NULL,
        blobs_scanned BIGINT NOT NULL,
        blobs_deleted BIGINT NOT NULL,
        bytes_freed BIGINT NOT NULL,
        uploads_deleted BIGINT NOT NULL,
        started_at ${time} NOT NULL,
        finished_at ${time} NOT NULL,
        duration_ms BIGINT NOT NULL
      )${table}`);
    await runner.query('CREATE INDEX ix_dockyard_gc_runs_started ON dockyard_gc_runs (started_at)');
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query('DROP TABLE dockyard_gc_runs');
  }
}
