import type { MigrationInterface, QueryRunner } from 'typeorm';
import { migrationTypes } from '@co/eventstore';

/**
 * Quotas: the limits set (projected from `QuotaSet`; project '' is the organization's
 * own), and the usage crew follows from pilotage's events: workflows by id and runs
 * by stream, each with its project, so that a delete or a finished run can be counted
 * off even though its event does not name the project.
 */
export class CreateQuotas1764000300000 implements MigrationInterface {
  name = 'CreateQuotas1764000300000';

  async up(runner: QueryRunner): Promise<void> {
    const { table, text, time, id, name } = migrationTypes(runner);
    await runner.query(`
      CREATE TABLE crew_quotas (
        org ${name} NOT NULL,
        project ${name} NOT NULL,
        limits ${text} NOT NULL,
        updated_at ${time} NOT NULL,
        PRIMARY KEY (org, project)
      )${table}`);
    await runner.query(`
      CREATE TABLE crew_quota_workflows (
        workflow_id ${id} NOT NULL PRIMARY KEY,
        org ${name} NOT NULL,
        project ${name} NOT NULL,
        deleted SMALLINT NOT NULL
      )${table}`);
    await runner.query(`CREATE INDEX ix_crew_quota_workflows_place ON crew_quota_workflows (org, project)`);
    await runner.query(`
      CREATE TABLE crew_quota_runs (
        stream_id ${name} NOT NULL PRIMARY KEY,
        org ${name} NOT NULL,
        project ${name} NOT NULL,
        active SMALLINT NOT NULL
      )${table}`);
    await runner.query(`CREATE INDEX ix_crew_quota_runs_place ON crew_quota_runs (org, project)`);
  }

  async down(runner: QueryRunner): Promise<void> {
    for (const table of ['crew_quota_runs', 'crew_quota_workflows', 'crew_quotas']) {
      await runner.query(`DROP TABLE ${table}`);
    }
  }
}
