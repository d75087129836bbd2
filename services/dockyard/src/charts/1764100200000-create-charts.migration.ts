import type { MigrationInterface, QueryRunner } from 'typeorm';
import { migrationTypes } from '@co/eventstore';

/**
 * Charts uploaded to a workspace's chart repository (Helm OCI charts pushed through /v2
 * live in the registry's tables). The package's bytes are a blob in the BlobStore under
 * `digest`, its provenance file (if any) under `prov_digest`; `metadata` is the
 * Chart.yaml fields the index lists, as JSON.
 */
export class CreateCharts1764100200000 implements MigrationInterface {
  name = 'CreateCharts1764100200000';

  async up(runner: QueryRunner): Promise<void> {
    const { table, text, time, name, mysql } = migrationTypes(runner);
    const varchar = (length: number) => (mysql ? `VARCHAR(${length})` : 'TEXT');
    await runner.query(`
      CREATE TABLE dockyard_charts (
        workspace ${varchar(64)} NOT NULL,
        name ${varchar(100)} NOT NULL,
        version ${varchar(128)} NOT NULL,
        org ${name} NOT NULL,
        project ${name} NOT NULL,
        digest ${name} NOT NULL,
        size BIGINT NOT NULL,
        metadata ${text} NOT NULL,
        prov_digest ${name} NULL,
        prov_size BIGINT NULL,
        downloads BIGINT NOT NULL DEFAULT 0,
        created_by ${name} NOT NULL,
        created_at ${time} NOT NULL,
        PRIMARY KEY (workspace, name, version)
      )${table}`);
    await runner.query('CREATE INDEX ix_dockyard_charts_digest ON dockyard_charts (digest)');
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query('DROP TABLE dockyard_charts');
  }
}
