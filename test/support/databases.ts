import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Database, type DatabaseOptions, type Dialect } from '@co/eventstore';
import { dropDatabase, mysqlDatabaseUrl, uniqueName } from './infra';

export interface TestDatabase {
  db: Database;
  url: string;
  /** Opens another connection to the same database (a restarted process would). */
  reopen(): Promise<Database>;
  cleanup(): Promise<void>;
}

/** A new, empty, migrated database of the given dialect: MariaDB or a SQLite file. */
export async function openTestDatabase(
  dialect: Dialect,
  options: Omit<DatabaseOptions, 'url'> = {},
): Promise<TestDatabase> {
  let url: string;
  let remove: () => Promise<void>;
  if (dialect === 'mysql') {
    const name = uniqueName('co_test_');
    url = mysqlDatabaseUrl(name);
    remove = () => dropDatabase(name);
  } else {
    const dir = mkdtempSync(path.join(tmpdir(), 'co-test-'));
    url = `sqlite:${path.join(dir, 'test.sqlite')}`;
    remove = async () => rmSync(dir, { recursive: true, force: true });
  }
  const opened: Database[] = [];
  const open = async () => {
    const db = await Database.open({ ...options, url });
    opened.push(db);
    return db;
  };
  const db = await open();
  return {
    db,
    url,
    reopen: open,
    async cleanup() {
      for (const each of opened) await each.close();
      await remove();
    },
  };
}

export const DIALECTS: Dialect[] = ['mysql', 'sqlite'];
