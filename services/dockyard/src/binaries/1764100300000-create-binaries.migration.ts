import type { MigrationInterface, QueryRunner } from 'typeorm';
import { migrationTypes } from '@co/eventstore';

/**
 * Binary artifacts: one row per `<workspace>/<repository>/<tag>/<file>`; the bytes are a
 * blob in the BlobStore under `digest`.
 */
export class CreateBinaries1764100300000 implements MigrationInterface {
  name = 'CreateBinaries1764100300000';

  async up(runner: QueryRunner): Promise<void> {
    const { table, time, name, mysql } = migrationTypes(runner);
    const varchar = (length: number) => (mysql ? `VARCHAR(${length})` : 'TEXT');
    await runner.query(`
      CREATE TABLE dockyard_binaries (
        workspace ${varchar(64)} NOT NULL,
        repository ${varchar(128)} NOT NULL,
        tag ${varchar(128)} NOT NULL,
        file ${varchar(255)} NOT NULL,
        org ${name} NOT NULL,
        project ${name} NOT NULL,
        digest ${name} NOT NULL,
        size BIGINT NOT NULL,
        downloads BIGINT NOT NULL DEFAULT 0,
        created_by ${name} NOT NULL,
        created_at ${time} NOT NULL,
        updated_at ${time} NOT NULL,
        PRIMARY KEY (workspace, repository, tag, file)
      )${table}`);
    await runner.query('CREATE INDEX ix_dockyard_binaries_digest ON dockyard_binaries (digest)');
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query('DROP TABLE dockyard_binaries');
  }
}
