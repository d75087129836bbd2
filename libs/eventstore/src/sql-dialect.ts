import type { EntityManager, QueryRunner } from 'typeorm';
import type { Database } from './database';

function isMysql(target: Database | EntityManager | QueryRunner): boolean {
  return 'dialect' in target ? target.dialect === 'mysql' : target.connection.options.type === 'mysql';
}

/** A time as a query parameter: MySQL takes a Date (DATETIME(6)), SQLite stores ISO text. */
export function sqlTime(target: Database | EntityManager | QueryRunner, date: Date): Date | string {
  return isMysql(target) ? date : date.toISOString();
}

/** Column types for a service's own migrations, written once for MySQL and SQLite. */
export function migrationTypes(runner: QueryRunner) {
  const mysql = isMysql(runner);
  return {
    mysql,
    /** Table options appended after `CREATE TABLE … ( … )`. */
    table: mysql ? ' ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin' : '',
    text: mysql ? 'LONGTEXT' : 'TEXT',
    time: mysql ? 'DATETIME(6)' : 'TEXT',
    id: mysql ? 'VARCHAR(64)' : 'TEXT',
    /** Indexable names and keys (191 characters fit an InnoDB index in utf8mb4). */
    name: mysql ? 'VARCHAR(191)' : 'TEXT',
  };
}
