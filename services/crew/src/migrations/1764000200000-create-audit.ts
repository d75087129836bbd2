import type { MigrationInterface, QueryRunner } from 'typeorm';
import { migrationTypes } from '@co/eventstore';

/**
 * `crew_audit`: the audit records every service publishes, as crew received them.
 * Not events of crew's own: a record is stored once and deleted when it ages out.
 */
export class CreateAudit1764000200000 implements MigrationInterface {
  name = 'CreateAudit1764000200000';

  async up(runner: QueryRunner): Promise<void> {
    const { table, text, time, id, name } = migrationTypes(runner);
    await runner.query(`
      CREATE TABLE crew_audit (
        id ${id} NOT NULL PRIMARY KEY,
        at ${time} NOT NULL,
        service VARCHAR(32) NOT NULL,
        org ${name} NULL,
        project ${name} NULL,
        user_id ${id} NULL,
        username ${name} NULL,
        token_id ${id} NULL,
        action ${name} NOT NULL,
        outcome VARCHAR(16) NOT NULL,
        status INTEGER NOT NULL,
        record ${text} NOT NULL
      )${table}`);
    await runner.query(`CREATE INDEX ix_crew_audit_at ON crew_audit (at)`);
    await runner.query(`CREATE INDEX ix_crew_audit_org ON crew_audit (org, at)`);
    await runner.query(`CREATE INDEX ix_crew_audit_user ON crew_audit (user_id, at)`);
    await runner.query(`CREATE INDEX ix_crew_audit_username ON crew_audit (username, at)`);
    await runner.query(`CREATE INDEX ix_crew_audit_action ON crew_audit (action, at)`);
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query('DROP TABLE crew_audit');
  }
}
