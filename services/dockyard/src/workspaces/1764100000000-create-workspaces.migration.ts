import type { MigrationInterface, QueryRunner } from 'typeorm';
import { migrationTypes } from '@co/eventstore';

/** Workspaces' read model (projected from the `workspace-<name>` streams). */
export class CreateWorkspaces1764100000000 implements MigrationInterface {
  name = 'CreateWorkspaces1764100000000';

  async up(runner: QueryRunner): Promise<void> {
    const { table, text, time, name } = migrationTypes(runner);
    await runner.query(`
      CREATE TABLE dockyard_workspaces (
        name ${name} NOT NULL PRIMARY KEY,
        org ${name} NOT NULL,
        project ${name} NOT NULL,
        visibility VARCHAR(16) NOT NULL,
        description ${text} NOT NULL,
        created_by ${name} NOT NULL,
        created_at ${time} NOT NULL,
        updated_at ${time} NOT NULL
      )${table}`);
    await runner.query('CREATE INDEX ix_dockyard_workspaces_place ON dockyard_workspaces (org, project)');
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query('DROP TABLE dockyard_workspaces');
  }
}
