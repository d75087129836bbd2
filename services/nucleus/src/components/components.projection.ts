import * as semver from 'semver';
import type { EntityManager } from 'typeorm';
import { sqlTime, type Projection, type RecordedEvent } from '@co/eventstore';
import type { ComponentDeprecated, ComponentPublished, ComponentYanked } from './component.events';

/**
 * `nucleus_components` (one row per component: what the most recently published
 * version says of it), `nucleus_component_versions` (one row per version, with its
 * manifest) and `nucleus_component_labels` (labels and categories, for search).
 */
export class ComponentsProjection implements Projection {
  readonly name = 'nucleus-components';

  async apply(event: RecordedEvent, manager: EntityManager): Promise<void> {
    const time = sqlTime(manager, event.occurredAt);
    switch (event.type) {
      case 'ComponentPublished': {
        const data = event.data as unknown as ComponentPublished;
        const { metadata } = data.manifest;
        // Idempotent by key: a replay of the same event writes the same rows.
        await manager.query('DELETE FROM nucleus_component_versions WHERE namespace = ? AND name = ? AND version = ?', [data.namespace, data.name, data.version]);
        await manager.query(
          `INSERT INTO nucleus_component_versions
             (namespace, name, version, project, visibility, image, image_digest, pinned_image, manifest, deprecated, yanked, published_by, published_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 0, ?, ?)`,
          [data.namespace, data.name, data.version, data.project, data.visibility, data.manifest.spec.image, data.imageDigest, data.pinnedImage, JSON.stringify(data.manifest), data.publishedBy, time],
        );
        const labels = [...new Set([...metadata.labels, ...metadata.categories])];
        const [existing] = await manager.query('SELECT project, owner_id, created_at FROM nucleus_components WHERE namespace = ? AND name = ?', [data.namespace, data.name]);
        // The component belongs to the project of its first version.
        const project = existing?.project ?? data.project;
        await manager.query('DELETE FROM nucleus_components WHERE namespace = ? AND name = ?', [data.namespace, data.name]);
        await manager.query(
          `INSERT INTO nucleus_components (namespace, name, project, place, visibility, description, labels, latest_version, owner_id, created_at, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, ?)`,
          [
            data.namespace,
            data.name,
            project,
            `${data.namespace}/${project}`,
            data.visibility,
            metadata.description,
            JSON.stringify(labels),
            existing?.owner_id ?? data.publishedById ?? null,
            existing ? existing.created_at : time,
            time,
          ],
        );
        await manager.query('DELETE FROM nucleus_component_labels WHERE namespace = ? AND name = ?', [data.namespace, data.name]);
        for (const label of labels) {
          await manager.query('INSERT INTO nucleus_component_labels (namespace, name, label) VALUES (?, ?, ?)', [data.namespace, data.name, label]);
        }
        await this.updateLatest(manager, data.namespace, data.name);
        return;
      }
      case 'ComponentDeprecated': {
        const data = event.data as unknown as ComponentDeprecated;
        await manager.query('UPDATE nucleus_component_versions SET deprecated = 1, deprecation_message = ? WHERE namespace = ? AND name = ? AND version = ?', [
          data.message,
          data.namespace,
          data.name,
          data.version,
        ]);
        await manager.query('UPDATE nucleus_components SET updated_at = ? WHERE namespace = ? AND name = ?', [time, data.namespace, data.name]);
        return;
      }
      case 'ComponentYanked': {
        const data = event.data as unknown as ComponentYanked;
        await manager.query('UPDATE nucleus_component_versions SET yanked = 1, yank_reason = ? WHERE namespace = ? AND name = ? AND version = ?', [
          data.reason,
          data.namespace,
          data.name,
          data.version,
        ]);
        await manager.query('UPDATE nucleus_components SET updated_at = ? WHERE namespace = ? AND name = ?', [time, data.namespace, data.name]);
        await this.updateLatest(manager, data.namespace, data.name);
        return;
      }
      default:
        return;
    }
  }

  async reset(manager: EntityManager): Promise<void> {
    await manager.query('DELETE FROM nucleus_component_labels');
    await manager.query('DELETE FROM nucleus_component_versions');
    await manager.query('DELETE FROM nucleus_components');
  }

  /** The highest release that is not yanked; a pre-release only when there is no release. */
  private async updateLatest(manager: EntityManager, namespace: string, name: string): Promise<void> {
    const rows: { version: string; yanked: number | string }[] = await manager.query('SELECT version, yanked FROM nucleus_component_versions WHERE namespace = ? AND name = ?', [namespace, name]);
    const live = rows.filter((row) => Number(row.yanked) === 0).map((row) => row.version);
    const latest = semver.maxSatisfying(live, '*') ?? semver.rsort([...live])[0] ?? null;
    await manager.query('UPDATE nucleus_components SET latest_version = ? WHERE namespace = ? AND name = ?', [latest, namespace, name]);
  }
}
