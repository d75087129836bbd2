import { mkdirSync } from 'node:fs';
import * as path from 'node:path';

/** A message as the in-process bus keeps it. */
export interface JournalMessage {
  sequence: number;
  id: string;
  subject: string;
  payload: string;
  headers: Record<string, string>;
}

/**
 * Where the in-process bus keeps its messages and each durable consumer's position, so
 * that a restart neither loses a message that was published but not yet handled nor
 * forgets what each consumer already settled.
 */
export interface BusJournal {
  load(): JournalMessage[];
  append(message: Omit<JournalMessage, 'sequence'>): number;
  cursor(durable: string): number;
  saveCursor(durable: string, sequence: number): void;
  /** Drops messages up to and including `sequence`. */
  trim(sequence: number): void;
  close(): void;
}

interface Statement {
  run(...parameters: unknown[]): { lastInsertRowid: number | bigint };
  get(...parameters: unknown[]): Record<string, unknown> | undefined;
  all(...parameters: unknown[]): Record<string, unknown>[];
}

interface SqliteDatabase {
  pragma(statement: string): unknown;
  exec(sql: string): void;
  prepare(sql: string): Statement;
  close(): void;
}

type SqliteConstructor = new (file: string) => SqliteDatabase;

/** The journal of the standalone mode: a SQLite file beside the services' databases. */
export class SqliteBusJournal implements BusJournal {
  private readonly db: SqliteDatabase;
  private readonly statements: Record<'append' | 'cursor' | 'saveCursor' | 'trim' | 'load', Statement>;

  constructor(file: string) {
    mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    // better-sqlite3 is synchronous: a publish is on disk (WAL) before it returns.
    const Sqlite = require('better-sqlite3') as SqliteConstructor;
    this.db = new Sqlite(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS bus_messages (
        sequence INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL,
        subject TEXT NOT NULL,
        payload TEXT NOT NULL,
        headers TEXT NOT NULL
      );
      CREATE TABLE IF NOT EXISTS bus_consumers (
        durable TEXT PRIMARY KEY,
        cursor INTEGER NOT NULL
      );`);
    this.statements = {
      append: this.db.prepare('INSERT INTO bus_messages (id, subject, payload, headers) VALUES (?, ?, ?, ?)'),
      cursor: this.db.prepare('SELECT cursor FROM bus_consumers WHERE durable = ?'),
      saveCursor: this.db.prepare(
        'INSERT INTO bus_consumers (durable, cursor) VALUES (?, ?) ON CONFLICT(durable) DO UPDATE SET cursor = excluded.cursor',
      ),
      trim: this.db.prepare('DELETE FROM bus_messages WHERE sequence <= ?'),
      load: this.db.prepare('SELECT sequence, id, subject, payload, headers FROM bus_messages ORDER BY sequence'),
    };
  }

  load(): JournalMessage[] {
    return this.statements.load.all().map((row) => ({
      sequence: Number(row.sequence),
      id: String(row.id),
      subject: String(row.subject),
      payload: String(row.payload),
      headers: JSON.parse(String(row.headers)) as Record<string, string>,
    }));
  }

  append(message: Omit<JournalMessage, 'sequence'>): number {
    const result = this.statements.append.run(message.id, message.subject, message.payload, JSON.stringify(message.headers));
    return Number(result.lastInsertRowid);
  }

  cursor(durable: string): number {
    return Number(this.statements.cursor.get(durable)?.cursor ?? 0);
  }

  saveCursor(durable: string, sequence: number): void {
    this.statements.saveCursor.run(durable, sequence);
  }

  trim(sequence: number): void {
    this.statements.trim.run(sequence);
  }

  close(): void {
    this.db.close();
  }
}
