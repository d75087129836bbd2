import type { EntityManager } from 'typeorm';
import { sqlTime, type Projection, type RecordedEvent } from '@co/eventstore';
import type { TenancyEvent } from './tenancy.events';

const STREAMS = ['organization-', 'platform-bindings', 'role-'];

/** `crew_organizations`, `crew_projects`, `crew_bindings`, `crew_roles`: tenancy as it is now. */
export class TenancyProjection implements Projection {
  readonly name = 'crew-tenancy';

  async apply(recorded: RecordedEvent, manager: EntityManager): Promise<void> {
    if (!STREAMS.some((prefix) => recorded.streamId.startsWith(prefix))) return;
    const event = recorded as unknown as TenancyEvent;
    const at = sqlTime(manager, recorded.occurredAt);
    switch (event.type) {
      case 'OrganizationCreated':
        await manager.query('INSERT INTO crew_organizations (name, description, created_at) VALUES (?, ?, ?)', [event.data.name, event.data.description, at]);
        break;
      case 'ProjectCreated':
        await manager.query('INSERT INTO crew_projects (org, name, description, created_at) VALUES (?, ?, ?, ?)', [
          event.data.org,
          event.data.name,
          event.data.description,
          at,
        ]);
        break;
      case 'MemberAdded':
        await manager.query('INSERT INTO crew_bindings (user_id, org, project, username, role, created_at) VALUES (?, ?, ?, ?, ?, ?)', [
          event.data.userId,
          event.data.org,
          event.data.project ?? '',
          event.data.username,
          event.data.role,
          at,
        ]);
        break;
      case 'MemberRoleChanged':
        await manager.query('UPDATE crew_bindings SET role = ? WHERE user_id = ? AND org = ? AND project = ?', [
          event.data.role,
          event.data.userId,
          event.data.org,
          event.data.project ?? '',
        ]);
        break;
      case 'MemberRemoved':
        await manager.query('DELETE FROM crew_bindings WHERE user_id = ? AND org = ? AND project = ?', [event.data.userId, event.data.org, event.data.project ?? '']);
        break;
      case 'PlatformRoleGranted':
        await manager.query("INSERT INTO crew_bindings (user_id, org, project, username, role, created_at) VALUES (?, '', '', ?, ?, ?)", [
          event.data.userId,
          event.data.username,
          event.data.role,
          at,
        ]);
        break;
      case 'PlatformRoleRevoked':
        await manager.query("DELETE FROM crew_bindings WHERE user_id = ? AND org = '' AND project = ''", [event.data.userId]);
        break;
      case 'RoleDefined':
        await manager.query('INSERT INTO crew_roles (name, description, level, rules, created_at) VALUES (?, ?, ?, ?, ?)', [
          event.data.name,
          event.data.description,
          event.data.level,
          JSON.stringify(event.data.rules),
          at,
        ]);
        break;
      case 'RoleDeleted':
        await manager.query('DELETE FROM crew_roles WHERE name = ?', [event.data.name]);
        break;
    }
  }

  async reset(manager: EntityManager): Promise<void> {
    for (const table of ['crew_roles', 'crew_bindings', 'crew_projects', 'crew_organizations']) await manager.query(`DELETE FROM ${table}`);
  }
}
