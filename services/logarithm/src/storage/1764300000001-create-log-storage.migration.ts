import type { MigrationInterface, QueryRunner } from 'typeorm';
import { migrationTypes } from '@co/eventstore';

/**
 * The index of the segment files: one row per segment (a file of gzip members) and one
 * per frame (a member: the lines of one group commit for one task and source), so that a
 * query reads only the frames of its run, task and time range. `logarithm_origins`
 * remembers which positions of replayable logs (pilotage's task logs) are stored.
 */
export class CreateLogStorage1764300000001 implements MigrationInterface {
  name = 'CreateLogStorage1764300000001';

  async up(runner: QueryRunner): Promise<void> {
    const { table, id, name, text } = migrationTypes(runner);
    await runner.query(`
      CREATE TABLE logarithm_segments (
        id ${id} NOT NULL PRIMARY KEY,
        key_hash CHAR(64) NOT NULL,
        org ${name} NOT NULL,
        project ${name} NOT NULL,
        run ${name} NULL,
        source ${name} NULL,
        hour_start BIGINT NULL,
        file ${name} NOT NULL,
        size_bytes BIGINT NOT NULL,
        line_count BIGINT NOT NULL,
        frame_count BIGINT NOT NULL,
        min_ts_ms BIGINT NOT NULL,
        max_ts_ms BIGINT NOT NULL,
        first_seq BIGINT NOT NULL,
        last_seq BIGINT NOT NULL,
        created_ms BIGINT NOT NULL,
        last_write_ms BIGINT NOT NULL
      )${table}`);
    await runner.query('CREATE UNIQUE INDEX ux_logarithm_segments_key ON logarithm_segments (key_hash)');
    await runner.query('CREATE INDEX ix_logarithm_segments_run ON logarithm_segments (run)');
    await runner.query('CREATE INDEX ix_logarithm_segments_org_write ON logarithm_segments (org, last_write_ms)');
    await runner.query(`
      CREATE TABLE logarithm_frames (
        segment_id ${id} NOT NULL,
        byte_offset BIGINT NOT NULL,
        byte_length BIGINT NOT NULL,
        org ${name} NOT NULL,
        project ${name} NOT NULL,
        place ${name} NOT NULL,
        run ${name} NULL,
        task ${name} NULL,
        source ${name} NULL,
        line_count BIGINT NOT NULL,
        min_ts_ms BIGINT NOT NULL,
        max_ts_ms BIGINT NOT NULL,
        first_seq BIGINT NOT NULL,
        last_seq BIGINT NOT NULL,
        PRIMARY KEY (segment_id, byte_offset)
      )${table}`);
    await runner.query('CREATE INDEX ix_logarithm_frames_run_seq ON logarithm_frames (run, first_seq)');
    await runner.query('CREATE INDEX ix_logarithm_frames_run_task_seq ON logarithm_frames (run, task, first_seq)');
    await runner.query('CREATE INDEX ix_logarithm_frames_run_ts ON logarithm_frames (run, min_ts_ms)');
    await runner.query('CREATE INDEX ix_logarithm_frames_place_ts ON logarithm_frames (place, min_ts_ms)');
    await runner.query('CREATE INDEX ix_logarithm_frames_ts ON logarithm_frames (min_ts_ms)');
    await runner.query(`
      CREATE TABLE logarithm_origins (
        key_hash CHAR(64) NOT NULL PRIMARY KEY,
        run ${name} NULL,
        ranges ${text} NOT NULL
      )${table}`);
    await runner.query('CREATE INDEX ix_logarithm_origins_run ON logarithm_origins (run)');
    // The last sequence number handed out: kept apart from the segments, so that deleting
    // the newest segment never lets a number be given twice.
    await runner.query(`CREATE TABLE logarithm_counters (name ${name} NOT NULL PRIMARY KEY, value BIGINT NOT NULL)${table}`);
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query('DROP TABLE logarithm_counters');
    await runner.query('DROP TABLE logarithm_origins');
    await runner.query('DROP TABLE logarithm_frames');
    await runner.query('DROP TABLE logarithm_segments');
  }
}
