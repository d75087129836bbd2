import type { MigrationInterface, QueryRunner } from 'typeorm';
import { migrationTypes } from '@co/eventstore';

/** Organizations that keep their logs longer or shorter than CO_LOGARITHM_RETENTION_DAYS. */
export class CreateRetention1764300000002 implements MigrationInterface {
  name = 'CreateRetention1764300000002';

  async up(runner: QueryRunner): Promise<void> {
    const { table, name } = migrationTypes(runner);
    await runner.query(`
      CREATE TABLE logarithm_retention (
        org ${name} NOT NULL PRIMARY KEY,
        days INT NOT NULL,
        updated_by ${name} NOT NULL,
        updated_ms BIGINT NOT NULL
      )${table}`);
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query('DROP TABLE logarithm_retention');
  }
}
