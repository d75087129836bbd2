import type { MigrationInterface, QueryRunner } from 'typeorm';
import { migrationTypes } from '@co/eventstore';

/** Read models of workflows and runs, the task log store and the engine's settings. */
export class CreatePilotage1763800000000 implements MigrationInterface {
  name = 'CreatePilotage1763800000000';

  async up(runner: QueryRunner): Promise<void> {
    const { table, text, time, id, name } = migrationTypes(runner);
    await runner.query(`
      CREATE TABLE pilotage_settings (
        name ${name} NOT NULL PRIMARY KEY,
        value ${text} NOT NULL
      )${table}`);
    await runner.query(`
      CREATE TABLE pilotage_workflows (
        id ${id} NOT NULL PRIMARY KEY,
        project ${name} NOT NULL,
        name ${name} NOT NULL,
        revision INTEGER NOT NULL,
        active SMALLINT NOT NULL,
        definition ${text} NOT NULL,
        created_by ${name} NULL,
        created_at ${time} NOT NULL,
        updated_at ${time} NOT NULL
      )${table}`);
    await runner.query(`CREATE UNIQUE INDEX uq_pilotage_workflows_name ON pilotage_workflows (project, name)`);
    await runner.query(`
      CREATE TABLE pilotage_workflow_revisions (
        workflow_id ${id} NOT NULL,
        revision INTEGER NOT NULL,
        definition ${text} NOT NULL,
        created_by ${name} NULL,
        created_at ${time} NOT NULL,
        PRIMARY KEY (workflow_id, revision)
      )${table}`);
    await runner.query(`
      CREATE TABLE pilotage_runs (
        id ${id} NOT NULL PRIMARY KEY,
        stream_id ${name} NOT NULL,
        workflow_id ${id} NOT NULL,
        project ${name} NOT NULL,
        number INTEGER NOT NULL,
        status VARCHAR(16) NOT NULL,
        state ${text} NOT NULL,
        snapshot ${text} NOT NULL,
        requested_at ${time} NOT NULL,
        finished_at ${time} NULL
      )${table}`);
    await runner.query(`CREATE UNIQUE INDEX uq_pilotage_runs_number ON pilotage_runs (workflow_id, number)`);
    await runner.query(`CREATE INDEX ix_pilotage_runs_status ON pilotage_runs (status)`);
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

  async down(runner: QueryRunner): Promise<void> {
    for (const table of ['pilotage_task_logs', 'pilotage_runs', 'pilotage_workflow_revisions', 'pilotage_workflows', 'pilotage_settings']) {
      await runner.query(`DROP TABLE ${table}`);
    }
  }
}
