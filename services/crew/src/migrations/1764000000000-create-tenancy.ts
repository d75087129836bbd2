import type { MigrationInterface, QueryRunner } from 'typeorm';
import { migrationTypes } from '@co/eventstore';

/**
 * Crew's read model of tenancy, projected from the organization, platform-binding and
 * role streams: organizations, projects, role bindings and custom roles.
 */
export class CreateTenancy1764000000000 implements MigrationInterface {
  name = 'CreateTenancy1764000000000';

  async up(runner: QueryRunner): Promise<void> {
    const { table, text, time, id, name } = migrationTypes(runner);
    await runner.query(`
      CREATE TABLE crew_organizations (
        name ${name} NOT NULL PRIMARY KEY,
        description ${text} NOT NULL,
        created_at ${time} NOT NULL
      )${table}`);
    await runner.query(`
      CREATE TABLE crew_projects (
        org ${name} NOT NULL,
        name ${name} NOT NULL,
        description ${text} NOT NULL,
        created_at ${time} NOT NULL,
        PRIMARY KEY (org, name)
      )${table}`);
    // org '' is a platform binding; project '' an organization binding.
    await runner.query(`
      CREATE TABLE crew_bindings (
        user_id ${id} NOT NULL,
        org ${name} NOT NULL,
        project ${name} NOT NULL,
        username ${name} NOT NULL,
        role ${name} NOT NULL,
        created_at ${time} NOT NULL,
        PRIMARY KEY (user_id, org, project)
      )${table}`);
    await runner.query(`CREATE INDEX ix_crew_bindings_place ON crew_bindings (org, project)`);
    await runner.query(`CREATE INDEX ix_crew_bindings_role ON crew_bindings (role)`);
    await runner.query(`
      CREATE TABLE crew_roles (
        name ${name} NOT NULL PRIMARY KEY,
        description ${text} NOT NULL,
        level VARCHAR(16) NOT NULL,
        rules ${text} NOT NULL,
        created_at ${time} NOT NULL
      )${table}`);
  }

  async down(runner: QueryRunner): Promise<void> {
    for (const table of ['crew_roles', 'crew_bindings', 'crew_projects', 'crew_organizations']) {
      await runner.query(`DROP TABLE ${table}`);
    }
  }
}
