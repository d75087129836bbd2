import { mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { DataSource, type EntityManager, type MixedList, type EntitySchema } from 'typeorm';
import { createConnection } from 'mysql2/promise';
import { CreateEventStore1763700000000 } from './migrations/1763700000000-create-event-store';

export type Dialect = 'mysql' | 'sqlite';

/** TypeORM takes entity classes or schemas, and migration classes. */
type EntityList = MixedList<Function | string | EntitySchema>;
type MigrationList = (Function | string)[];

export interface DatabaseOptions {
  /** `mysql://user:password@host:port/database` or `sqlite:<file>` (`sqlite::memory:`). */
  url: string;
  entities?: EntityList;
  /** The service's own migrations; the event store's tables always come first. */
  migrations?: MigrationList;
}

/**
 * One service's database. SQLite has a single connection in TypeORM, so work that
 * spans several statements is serialized here: otherwise two transactions would nest
 * and readers could see rows that are later rolled back. MySQL gets a pool and real
 * transactions.
 */
export class Database {
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly dataSource: DataSource,
    readonly dialect: Dialect,
  ) {}

  static async open(options: DatabaseOptions): Promise<Database> {
    const dialect = dialectOf(options.url);
    const common = {
      entities: options.entities ?? [],
      migrations: [CreateEventStore1763700000000, ...(options.migrations ?? [])],
      migrationsTableName: 'co_migrations',
      synchronize: false,
      logging: false as const,
    };
    let dataSource: DataSource;
    if (dialect === 'mysql') {
      // One database per service, created when it does not exist yet.
      await ensureMysqlDatabase(options.url);
      dataSource = new DataSource({
        ...common,
        type: 'mysql',
        url: options.url.replace(/^mariadb:/, 'mysql:'),
        timezone: 'Z',
        charset: 'utf8mb4_bin',
        supportBigNumbers: true,
        bigNumberStrings: true,
        poolSize: 20,
        connectTimeout: 5000,
      });
    } else {
      const file = options.url.slice('sqlite:'.length);
      if (file !== ':memory:') mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
      dataSource = new DataSource({
        ...common,
        type: 'better-sqlite3',
        database: file,
        enableWAL: true,
        timeout: 5000,
        prepareDatabase: (db: { pragma(statement: string): unknown }) => {
          db.pragma('synchronous = NORMAL');
          db.pragma('foreign_keys = ON');
        },
      });
    }
    try {
      await dataSource.initialize();
    } catch (error) {
      throw new Error(`cannot open database ${redactUrl(options.url)}: ${(error as Error).message}`);
    }
    if (dialect === 'mysql') await useReadCommitted(dataSource);
    const database = new Database(dataSource, dialect);
    await database.exclusive(() => dataSource.runMigrations({ transaction: 'each' }));
    return database;
  }

  /** Runs `work` in a transaction (serialized with all other work on SQLite). */
  transaction<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    return this.exclusive(() => this.dataSource.transaction(work));
  }

  /** Runs one statement; on SQLite it waits for any transaction in progress. */
  query<T = unknown>(sql: string, parameters: unknown[] = []): Promise<T> {
    return this.exclusive(() => this.dataSource.query(sql, parameters));
  }

  async ping(): Promise<void> {
    await this.query('SELECT 1');
  }

  async close(): Promise<void> {
    if (this.dataSource.isInitialized) await this.exclusive(() => this.dataSource.destroy());
  }

  /** On MySQL the pool handles concurrency; on SQLite calls run one at a time. */
  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    if (this.dialect === 'mysql') return work();
    const result = this.queue.then(work, work);
    this.queue = result.catch(() => undefined);
    return result;
  }
}

/**
 * Every MySQL session of a service runs at READ COMMITTED. Under the default
 * REPEATABLE READ, the version check of an append takes gap locks, so two appends to
 * two different new streams that happen to be neighbours in the index can deadlock;
 * under READ COMMITTED only the unique key arbitrates, and only appends to the same
 * stream ever collide.
 */
async function useReadCommitted(dataSource: DataSource): Promise<void> {
  const statement = 'SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED';
  const pool = (dataSource.driver as unknown as { pool: { on(event: 'connection', listener: (connection: { query(sql: string): void }) => void): void } }).pool;
  pool.on('connection', (connection) => connection.query(statement));
  // The pool holds the one connection TypeORM opened to check the server; nothing
  // else uses it yet, so this runs on it.
  await dataSource.query(statement);
}

export function dialectOf(url: string): Dialect {
  if (/^(mysql|mariadb):\/\//.test(url)) return 'mysql';
  if (url.startsWith('sqlite:')) return 'sqlite';
  throw new Error(`unsupported database URL ${redactUrl(url)}: use mysql://… or sqlite:<file>`);
}

export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
}

async function ensureMysqlDatabase(url: string): Promise<void> {
  const parsed = new URL(url.replace(/^mariadb:/, 'mysql:'));
  const name = decodeURIComponent(parsed.pathname.replace(/^\//, ''));
  if (!/^[A-Za-z0-9_]+$/.test(name)) throw new Error(`database name "${name}" must be letters, digits or _`);
  let connection;
  try {
    connection = await createConnection({
      host: parsed.hostname,
      port: parsed.port ? Number(parsed.port) : 3306,
      user: decodeURIComponent(parsed.username),
      password: decodeURIComponent(parsed.password),
      connectTimeout: 5000,
    });
  } catch (error) {
    throw new Error(`cannot connect to ${redactUrl(url)}: ${(error as Error).message}`);
  }
  try {
    await connection.query(
      `CREATE DATABASE IF NOT EXISTS \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`,
    );
  } finally {
    await connection.end();
  }
}
