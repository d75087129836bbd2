import type { MigrationInterface, QueryRunner } from 'typeorm';
import { migrationTypes } from '@co/eventstore';

/** `logarithm_runs`: pilotage's runs as far as logs need them (owner, end), keyed by pilotage's run stream. */
export class CreateRuns1764300000050 implements MigrationInterface {
  name = 'CreateRuns1764300000050';

  async up(runner: QueryRunner): Promise<void> {
    const { table, time, id, name } = migrationTypes(runner);
    await runner.query(`
      CREATE TABLE logarithm_runs (
        stream_id ${name} NOT NULL PRIMARY KEY,
        run_id ${id} NULL,
        org ${name} NOT NULL,
        project ${name} NOT NULL,
        workflow_id ${id} NULL,
        workflow_name ${name} NULL,
        requested_at ${time} NULL,
        ended_at ${time} NULL,
        outcome VARCHAR(16) NULL
      )${table}`);
    await runner.query('CREATE UNIQUE INDEX ux_logarithm_runs_run ON logarithm_runs (run_id)');
    await runner.query('CREATE INDEX ix_logarithm_runs_ended ON logarithm_runs (ended_at)');
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query('DROP TABLE logarithm_runs');
  }
}
