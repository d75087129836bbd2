import type { MigrationInterface, QueryRunner } from 'typeorm';
import { migrationTypes } from '@co/eventstore';

/**
 * `logarithm_run_masks`: each run's secret values, sealed with a key kept in
 * `logarithm_settings` (created here unless an earlier migration did).
 */
export class CreateMasks1764300000060 implements MigrationInterface {
  name = 'CreateMasks1764300000060';

  async up(runner: QueryRunner): Promise<void> {
    const { table, text, time, id, name } = migrationTypes(runner);
    await runner.query(`
      CREATE TABLE IF NOT EXISTS logarithm_settings (
        name ${name} NOT NULL PRIMARY KEY,
        value ${text} NOT NULL
      )${table}`);
    await runner.query(`
      CREATE TABLE logarithm_run_masks (
        run_id ${id} NOT NULL PRIMARY KEY,
        org ${name} NOT NULL,
        project ${name} NOT NULL,
        value_count INTEGER NOT NULL,
        sealed ${text} NOT NULL,
        registered_at ${time} NOT NULL,
        updated_at ${time} NOT NULL
      )${table}`);
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query('DROP TABLE logarithm_run_masks');
    await runner.query("DELETE FROM logarithm_settings WHERE name = 'mask-key'");
  }
}
