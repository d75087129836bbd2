import type { MigrationInterface, QueryRunner } from 'typeorm';
import { migrationTypes } from '@co/eventstore';

/** The component registry's read model (projected from the `component-<namespace>.<name>` streams). */
export class CreateComponents1764200000000 implements MigrationInterface {
  name = 'CreateComponents1764200000000';

  async up(runner: QueryRunner): Promise<void> {
    const { table, text, time, name, id } = migrationTypes(runner);
    await runner.query(`
      CREATE TABLE nucleus_components (
        namespace ${name} NOT NULL,
        name ${name} NOT NULL,
        project ${name} NOT NULL,
        place ${name} NOT NULL,
        visibility VARCHAR(16) NOT NULL,
        description ${text} NOT NULL,
        labels ${text} NOT NULL,
        latest_version VARCHAR(128) NULL,
        owner_id ${id} NULL,
        created_at ${time} NOT NULL,
        updated_at ${time} NOT NULL,
        PRIMARY KEY (namespace, name)
      )${table}`);
    await runner.query('CREATE INDEX ix_nucleus_components_place ON nucleus_components (place)');
    await runner.query(`
      CREATE TABLE nucleus_component_versions (
        namespace ${name} NOT NULL,
        name ${name} NOT NULL,
        version VARCHAR(128) NOT NULL,
        project ${name} NOT NULL,
        visibility VARCHAR(16) NOT NULL,
        image VARCHAR(512) NOT NULL,
        image_digest VARCHAR(100) NOT NULL,
        pinned_image VARCHAR(700) NOT NULL,
        manifest ${text} NOT NULL,
        deprecated INTEGER NOT NULL DEFAULT 0,
        deprecation_message ${text} NULL,
        yanked INTEGER NOT NULL DEFAULT 0,
        yank_reason ${text} NULL,
        published_by ${name} NOT NULL,
        published_at ${time} NOT NULL,
        PRIMARY KEY (namespace, name, version)
      )${table}`);
    await runner.query(`
      CREATE TABLE nucleus_component_labels (
        namespace ${name} NOT NULL,
        name ${name} NOT NULL,
        label VARCHAR(64) NOT NULL,
        PRIMARY KEY (namespace, name, label)
      )${table}`);
    await runner.query('CREATE INDEX ix_nucleus_component_labels_label ON nucleus_component_labels (label)');
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query('DROP TABLE nucleus_component_labels');
    await runner.query('DROP TABLE nucleus_component_versions');
    await runner.query('DROP TABLE nucleus_components');
  }
}
