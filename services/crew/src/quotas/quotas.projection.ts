import type { EntityManager } from 'typeorm';
import { sqlTime, type Projection, type RecordedEvent } from '@co/eventstore';
import type { QuotaEvent } from './quota.events';

/** `crew_quotas`: the limits set on each organization and project. */
export class QuotasProjection implements Projection {
  readonly name = 'crew-quotas';

  async apply(recorded: RecordedEvent, manager: EntityManager): Promise<void> {
    if (!recorded.streamId.startsWith('quota-')) return;
    const event = recorded as unknown as QuotaEvent;
    if (event.type !== 'QuotaSet') return;
    const { org, project, limits } = event.data;
    const key = [org, project ?? ''];
    await manager.query('DELETE FROM crew_quotas WHERE org = ? AND project = ?', key);
    await manager.query('INSERT INTO crew_quotas (org, project, limits, updated_at) VALUES (?, ?, ?, ?)', [
      ...key,
      JSON.stringify(limits),
      sqlTime(manager, recorded.occurredAt),
    ]);
  }

  async reset(manager: EntityManager): Promise<void> {
    await manager.query('DELETE FROM crew_quotas');
  }
}
