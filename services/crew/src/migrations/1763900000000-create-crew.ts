import type { MigrationInterface, QueryRunner } from 'typeorm';
import { migrationTypes } from '@co/eventstore';

/**
 * Crew's read model of users and its plain tables: password credentials, refresh
 * tokens and token signing keys. These three hold secrets (or hashes of them) and
 * are deliberately not events: every event is relayed to the bus.
 */
export class CreateCrew1763900000000 implements MigrationInterface {
  name = 'CreateCrew1763900000000';

  async up(runner: QueryRunner): Promise<void> {
    const { table, text, time, id, name } = migrationTypes(runner);
    await runner.query(`
      CREATE TABLE crew_users (
        id ${id} NOT NULL PRIMARY KEY,
        username ${name} NOT NULL,
        email ${name} NOT NULL,
        created_at ${time} NOT NULL,
        updated_at ${time} NOT NULL
      )${table}`);
    await runner.query(`CREATE UNIQUE INDEX uq_crew_users_username ON crew_users (username)`);
    await runner.query(`
      CREATE TABLE crew_credentials (
        user_id ${id} NOT NULL PRIMARY KEY,
        password_hash ${name} NOT NULL,
        updated_at ${time} NOT NULL
      )${table}`);
    await runner.query(`
      CREATE TABLE crew_refresh_tokens (
        token_hash ${id} NOT NULL PRIMARY KEY,
        family_id ${id} NOT NULL,
        user_id ${id} NOT NULL,
        issued_at ${time} NOT NULL,
        expires_at ${time} NOT NULL,
        revoked_at ${time} NULL,
        replaced_by ${id} NULL
      )${table}`);
    await runner.query(`CREATE INDEX ix_crew_refresh_tokens_family ON crew_refresh_tokens (family_id)`);
    await runner.query(`
      CREATE TABLE crew_signing_keys (
        kid ${id} NOT NULL PRIMARY KEY,
        alg VARCHAR(16) NOT NULL,
        public_jwk ${text} NOT NULL,
        private_jwk ${text} NOT NULL,
        created_at ${time} NOT NULL,
        retired_at ${time} NULL
      )${table}`);
  }

  async down(runner: QueryRunner): Promise<void> {
    for (const table of ['crew_signing_keys', 'crew_refresh_tokens', 'crew_credentials', 'crew_users']) {
      await runner.query(`DROP TABLE ${table}`);
    }
  }
}
