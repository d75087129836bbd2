import type { MigrationInterface, QueryRunner } from 'typeorm';
import { migrationTypes } from '@co/eventstore';

/**
 * Personal API tokens and the registry's workspace directory. `crew_api_tokens` is a
 * plain table keyed by the token's sha256 (like refresh tokens): the secret and its
 * hash never reach the event log, which is relayed to the bus. Issue and revoke are
 * also recorded as events, without either. `crew_registry_workspaces` is fed by
 * dockyard's workspace events.
 */
export class CreateTokens1764000100000 implements MigrationInterface {
  name = 'CreateTokens1764000100000';

  async up(runner: QueryRunner): Promise<void> {
    const { table, text, time, id, name } = migrationTypes(runner);
    await runner.query(`
      CREATE TABLE crew_api_tokens (
        token_hash ${id} NOT NULL PRIMARY KEY,
        id ${id} NOT NULL,
        user_id ${id} NOT NULL,
        name ${name} NOT NULL,
        scopes ${text} NOT NULL,
        created_at ${time} NOT NULL,
        expires_at ${time} NOT NULL,
        last_used_at ${time} NULL,
        revoked_at ${time} NULL
      )${table}`);
    await runner.query(`CREATE UNIQUE INDEX uq_crew_api_tokens_id ON crew_api_tokens (id)`);
    await runner.query(`CREATE INDEX ix_crew_api_tokens_user ON crew_api_tokens (user_id)`);
    await runner.query(`
      CREATE TABLE crew_registry_workspaces (
        name ${name} NOT NULL PRIMARY KEY,
        org ${name} NOT NULL,
        project ${name} NOT NULL,
        visibility VARCHAR(16) NOT NULL,
        stream_id ${name} NOT NULL,
        stream_version INTEGER NOT NULL,
        deleted_at ${time} NULL,
        updated_at ${time} NOT NULL
      )${table}`);
  }

  async down(runner: QueryRunner): Promise<void> {
    for (const table of ['crew_registry_workspaces', 'crew_api_tokens']) {
      await runner.query(`DROP TABLE ${table}`);
    }
  }
}
