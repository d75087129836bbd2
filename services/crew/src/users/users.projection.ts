import type { EntityManager } from 'typeorm';
import { sqlTime, type Projection, type RecordedEvent } from '@co/eventstore';
import type { UserEvent } from './user.events';

/** `crew_users`: the users as they are now (no credentials). */
export class UsersProjection implements Projection {
  readonly name = 'crew-users';

  async apply(recorded: RecordedEvent, manager: EntityManager): Promise<void> {
    if (!recorded.streamId.startsWith('user-')) return;
    const event = recorded as RecordedEvent & UserEvent;
    const id = recorded.streamId.slice('user-'.length);
    const at = sqlTime(manager, recorded.occurredAt);
    if (event.type === 'UserCreated') {
      await manager.query('INSERT INTO crew_users (id, username, email, created_at, updated_at) VALUES (?, ?, ?, ?, ?)', [
        id,
        event.data.username,
        event.data.email,
        at,
        at,
      ]);
    }
  }

  async reset(manager: EntityManager): Promise<void> {
    await manager.query('DELETE FROM crew_users');
  }
}
