import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { ConflictError, InvalidInputError, NotFoundError } from '@co/common';
import { ConcurrencyConflictError, Database, EventStore, ProjectionRunner, type RecordedEvent, sqlTime } from '@co/eventstore';
import { hashPassword, passwordProblem } from './password-hasher';
import { evolveUser, USERNAME, usernameStreamId, userStreamId, type UserCreated, type UserEvent, type UserState } from './user.events';

/** What the API shows of a user: never any password data. */
export interface UserView {
  id: string;
  username: string;
  email: string;
  createdAt: string;
}

interface UserRow {
  id: string;
  username: string;
  email: string;
  created_at: Date | string;
}

/** A username claim whose user has not appeared after this long is taken to be left by a crash. */
const ABANDONED_CLAIM_MS = 30_000;

const EMAIL = /^[^\s@]{1,64}@[^\s@]+\.[^\s@]+$/;

export function checkUsername(username: string): void {
  if (!USERNAME.test(username)) {
    throw new InvalidInputError(
      'USER.INVALID_NAME',
      'A username is a lowercase slug of 3 to 32 characters: a letter, then letters, digits and single dashes (e.g. alice or ci-bot).',
    );
  }
}

@Injectable()
export class UsersService {
  constructor(
    private readonly store: EventStore,
    private readonly db: Database,
    private readonly projections: ProjectionRunner,
  ) {}

  /**
   * Creates a user. The username is claimed first (its claim stream decides between
   * concurrent creates, replicas included), then the credential row is written, then
   * `UserCreated`. A user exists once its event does.
   */
  async create(input: { username: string; password: string; email: string }, origin: UserCreated['origin'] = 'api', actor?: string): Promise<UserView> {
    checkUsername(input.username);
    if (input.email.length > 191 || !EMAIL.test(input.email)) {
      throw new InvalidInputError('USER.INVALID_EMAIL', 'email must be an address like name@example.com (at most 191 characters).');
    }
    const problem = passwordProblem(input.password, input.username);
    if (problem) throw new InvalidInputError('USER.INVALID_PASSWORD', `The password is not accepted: ${problem}.`, { rule: problem });
    const hash = await hashPassword(input.password);
    const id = randomUUID();
    await this.claimUsername(input.username, id);
    await this.db.query('INSERT INTO crew_credentials (user_id, password_hash, updated_at) VALUES (?, ?, ?)', [id, hash, sqlTime(this.db, new Date())]);
    let recorded: RecordedEvent<UserCreated>[];
    try {
      recorded = await this.store.append<UserCreated>(
        userStreamId(id),
        'no-stream',
        [{ type: 'UserCreated', data: { userId: id, username: input.username, email: input.email, origin } }],
        { actor },
      );
    } catch (error) {
      await this.db.query('DELETE FROM crew_credentials WHERE user_id = ?', [id]).catch(() => undefined);
      throw error;
    }
    await this.projections.settle(recorded[recorded.length - 1].position);
    return toView(this.fold(recorded as unknown as RecordedEvent[]));
  }

  async get(username: string): Promise<UserView> {
    const user = await this.find(username);
    if (!user) {
      throw new NotFoundError('USER.NOT_FOUND', `No user named ${username}.`);
    }
    return user;
  }

  async find(username: string): Promise<UserView | undefined> {
    if (!USERNAME.test(username)) return undefined;
    const [row] = await this.db.query<UserRow[]>('SELECT id, username, email, created_at FROM crew_users WHERE username = ?', [username]);
    return row ? { id: row.id, username: row.username, email: row.email, createdAt: new Date(row.created_at).toISOString() } : undefined;
  }

  async list(): Promise<UserView[]> {
    const rows = await this.db.query<UserRow[]>('SELECT id, username, email, created_at FROM crew_users ORDER BY username');
    return rows.map((row) => ({ id: row.id, username: row.username, email: row.email, createdAt: new Date(row.created_at).toISOString() }));
  }

  async findById(id: string): Promise<UserView | undefined> {
    const [row] = await this.db.query<UserRow[]>('SELECT id, username, email, created_at FROM crew_users WHERE id = ?', [id]);
    return row ? { id: row.id, username: row.username, email: row.email, createdAt: new Date(row.created_at).toISOString() } : undefined;
  }

  /** The user's stored password hash, by username (the event log decides who holds the name). */
  async credentials(username: string): Promise<{ userId: string; username: string; passwordHash: string } | undefined> {
    if (!USERNAME.test(username)) return undefined;
    const holder = await this.nameHolder(username);
    if (!holder) return undefined;
    const [row] = await this.db.query<{ password_hash: string }[]>('SELECT password_hash FROM crew_credentials WHERE user_id = ?', [holder]);
    if (!row || (await this.store.streamVersion(userStreamId(holder))) === 0) return undefined;
    return { userId: holder, username, passwordHash: row.password_hash };
  }

  /** The id of the user holding `username` (claim stream), whether or not its user event exists yet. */
  async nameHolder(username: string): Promise<string | undefined> {
    const events = await this.store.readStream(usernameStreamId(username));
    const last = events[events.length - 1];
    return last?.type === 'UsernameClaimed' ? (last.data as { userId: string }).userId : undefined;
  }

  private async claimUsername(username: string, userId: string): Promise<void> {
    const streamId = usernameStreamId(username);
    for (let attempt = 0; attempt < 5; attempt++) {
      const events = await this.store.readStream(streamId);
      const last = events[events.length - 1];
      if (last?.type === 'UsernameClaimed') {
        const holder = (last.data as { userId: string }).userId;
        const stale = (await this.store.streamVersion(userStreamId(holder))) === 0 && Date.now() - last.occurredAt.getTime() > ABANDONED_CLAIM_MS;
        if (!stale) throw new ConflictError('USER.NAME_TAKEN', `The username ${username} is taken; choose another.`);
      }
      try {
        await this.store.append(streamId, events.length === 0 ? 'no-stream' : events.length, [{ type: 'UsernameClaimed', data: { userId, username } }]);
        return;
      } catch (error) {
        if (!(error instanceof ConcurrencyConflictError)) throw error;
      }
    }
    throw new ConflictError('USER.NAME_TAKEN', `The username ${username} is being created right now; choose another.`);
  }

  private fold(events: RecordedEvent[]): UserState {
    let state: UserState | undefined;
    for (const event of events) state = evolveUser(state, event as RecordedEvent & UserEvent);
    return state!;
  }
}

function toView(state: UserState): UserView {
  return { id: state.id, username: state.username, email: state.email, createdAt: state.createdAt };
}
