import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The append-only event table (also the outbox), the checkpoints of the relay and of
 * projections, and the ids of events already handled by idempotent consumers.
 */
export class CreateEventStore1763700000000 implements MigrationInterface {
  name = 'CreateEventStore1763700000000';

  async up(runner: QueryRunner): Promise<void> {
    if (runner.connection.options.type === 'mysql') {
      await runner.query(`
        CREATE TABLE co_events (
          position BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
          event_id CHAR(36) NOT NULL,
          stream_id VARCHAR(255) NOT NULL,
          stream_version INT UNSIGNED NOT NULL,
          type VARCHAR(128) NOT NULL,
          schema_version SMALLINT UNSIGNED NOT NULL,
          data JSON NOT NULL,
          metadata JSON NOT NULL,
          occurred_at DATETIME(6) NOT NULL,
          PRIMARY KEY (position),
          UNIQUE KEY uq_co_events_stream_version (stream_id, stream_version),
          UNIQUE KEY uq_co_events_event_id (event_id)
        ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`);
      await runner.query(`
        CREATE TABLE co_checkpoints (
          name VARCHAR(191) NOT NULL,
          position BIGINT UNSIGNED NOT NULL,
          updated_at DATETIME(6) NOT NULL,
          PRIMARY KEY (name)
        ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`);
      await runner.query(`
        CREATE TABLE co_consumed_events (
          consumer VARCHAR(191) NOT NULL,
          event_id VARCHAR(191) NOT NULL,
          consumed_at DATETIME(6) NOT NULL,
          PRIMARY KEY (consumer, event_id)
        ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`);
    } else {
      await runner.query(`
        CREATE TABLE co_events (
          position INTEGER PRIMARY KEY AUTOINCREMENT,
          event_id TEXT NOT NULL UNIQUE,
          stream_id TEXT NOT NULL,
          stream_version INTEGER NOT NULL,
          type TEXT NOT NULL,
          schema_version INTEGER NOT NULL,
          data TEXT NOT NULL,
          metadata JSON NOT NULL,
          occurred_at TEXT NOT NULL,
          UNIQUE (stream_id, stream_version)
        )`);
      await runner.query(`
        CREATE TABLE co_checkpoints (
          name TEXT PRIMARY KEY,
          position INTEGER NOT NULL,
          updated_at TEXT NOT NULL
        )`);
      await runner.query(`
        CREATE TABLE co_consumed_events (
          consumer TEXT NOT NULL,
          event_id TEXT NOT NULL,
          consumed_at TEXT NOT NULL,
          PRIMARY KEY (consumer, event_id)
        )`);
    }
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query('DROP TABLE co_consumed_events');
    await runner.query('DROP TABLE co_checkpoints');
    await runner.query('DROP TABLE co_events');
  }
}
