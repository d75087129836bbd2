import type { MigrationInterface, QueryRunner } from 'typeorm';
import { migrationTypes } from '@co/eventstore';

/**
 * Task logs now live in logarithm (pilotage only publishes them), so their table goes; run
 * secrets get theirs: sealed values of runs that have not ended.
 */
export class RunSecretsLogsToLogarithm1764310000000 implements MigrationInterface {
  name = 'RunSecretsLogsToLogarithm1764310000000';

  async up(runner: QueryRunner): Promise<void> {
    const { table, text, time, id } = migrationTypes(runner);
    await runner.query(`DROP TABLE pilotage_task_logs`);
    await runner.query(`
      CREATE TABLE pilotage_run_secrets (
        run_id ${id} NOT NULL PRIMARY KEY,
        sealed ${text} NOT NULL,
        created_at ${time} NOT NULL
      )${table}`);
  }

  async down(runner: QueryRunner): Promise<void> {
    const { table, text, time, id, name } = migrationTypes(runner);
    await runner.query(`DROP TABLE pilotage_run_secrets`);
    await runner.query(`
      CREATE TABLE pilotage_task_logs (
        run_id ${id} NOT NULL,
        task ${name} NOT NULL,
        attempt INTEGER NOT NULL,
        source VARCHAR(16) NOT NULL,
        seq BIGINT NOT NULL,
        stream VARCHAR(8) NOT NULL,
        logged_at ${time} NOT NULL,
        line ${text} NOT NULL,
        PRIMARY KEY (run_id, task, attempt, source, seq)
      )${table}`);
  }
}
