import { Inject, Injectable } from '@nestjs/common';
import * as semver from 'semver';
import type { Principal } from '@co/auth';
import { ConflictError, InvalidInputError, NotFoundError } from '@co/common';
import { ConcurrencyConflictError, type RecordedEvent } from '@co/eventstore';
import { SERVICE_RUNTIME, type ServiceRuntime } from '@co/service-kit';
import { NUCLEUS_SETTINGS, type NucleusSettings } from '../nucleus-settings';
import { ComponentAccess, componentNotFound } from './component-access';
import { ManifestInvalidError, readManifest, type ComponentManifest, type ManifestFormat } from './component-manifest';
import { componentStream, type ComponentDeprecated, type ComponentPublished, type ComponentYanked } from './component.events';
import { DockyardImages, UnprocessableError, type FoundImage } from './dockyard-images';
import { ImageReferenceError, parseImageReference, pinnedReference, type ImageReference } from './image-reference';
import { resolveRange } from './version-ranges';

export interface ComponentVersionView {
  namespace: string;
  name: string;
  version: string;
  project: string;
  visibility: string;
  image: string;
  imageDigest: string;
  pinnedImage: string;
  deprecated: boolean;
  deprecationMessage: string | null;
  yanked: boolean;
  yankReason: string | null;
  publishedBy: string;
  publishedAt: string;
  manifest: ComponentManifest;
}

export interface ComponentSummary {
  namespace: string;
  name: string;
  /** `<org>/<project>`'s project: where the component's first version's image is kept. */
  project: string;
  visibility: string;
  description: string;
  labels: string[];
  /** The highest release that is not yanked (a pre-release only when there is no release). */
  latestVersion: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface VersionSummary {
  version: string;
  imageDigest: string;
  deprecated: boolean;
  yanked: boolean;
  publishedAt: string;
}

export interface ComponentDetail extends ComponentSummary {
  /** Newest first, by semantic version precedence. */
  versions: VersionSummary[];
}

/** What a workflow needs of a version: the exact version, the image pinned by digest, and the contract. */
export interface ResolvedComponentView {
  namespace: string;
  name: string;
  range: string;
  version: string;
  pinnedImage: string;
  imageDigest: string;
  command: string[] | null;
  env: Record<string, string>;
  overridable: ComponentManifest['spec']['overridable'];
  inputs: Record<string, unknown> | null;
  outputs: ComponentManifest['spec']['outputs'];
  timeout: string | number | null;
  resources: ComponentManifest['spec']['resources'] | null;
  deprecated: boolean;
  deprecationMessage: string | null;
}

export interface ListFilter {
  namespace?: string;
  name?: string;
  label?: string;
  q?: string;
  page?: number;
  pageSize?: number;
}

export const COMPONENT_LIST_LIMITS = { defaultPageSize: 20, maxPageSize: 100, queryWords: 10 } as const;
/** Retries of a publish whose stream moved on meanwhile (another version published at the same time). */
const PUBLISH_ATTEMPTS = 5;

interface ComponentRow {
  namespace: string;
  name: string;
  project: string;
  visibility: string;
  description: string;
  labels: string;
  latest_version: string | null;
  created_at: Date | string;
  updated_at: Date | string;
}

interface VersionRow {
  namespace: string;
  name: string;
  version: string;
  project: string;
  visibility: string;
  image: string;
  image_digest: string;
  pinned_image: string;
  manifest: string;
  deprecated: number | string;
  deprecation_message: string | null;
  yanked: number | string;
  yank_reason: string | null;
  published_by: string;
  published_at: Date | string;
}

/**
 * The component registry's application layer, shared by REST and gRPC. Components
 * are event-sourced (one stream per component, every version in it); reads come from
 * the projection, settled after each change so that a caller reads its own writes.
 */
@Injectable()
export class ComponentsService {
  constructor(
    @Inject(SERVICE_RUNTIME) private readonly runtime: ServiceRuntime,
    @Inject(NUCLEUS_SETTINGS) private readonly settings: NucleusSettings,
    private readonly images: DockyardImages,
    private readonly access: ComponentAccess,
  ) {}

  /**
   * Publishes one version: checks the manifest, finds its image in dockyard with the
   * caller's credentials (`authorization`), pins it by digest, and records it.
   */
  async publish(principal: Principal, authorization: string | undefined, body: unknown, format: ManifestFormat): Promise<ComponentVersionView> {
    const manifest = readManifest(body, format);
    const { namespace, name } = manifest.metadata;
    const image = this.imageOf(manifest);
    const found = await this.images.find(image, manifest.spec.image, authorization);
    if (found.org !== namespace) {
      throw new UnprocessableError(
        'COMPONENT.IMAGE_OUTSIDE_NAMESPACE',
        `The image ${manifest.spec.image} is kept in workspace ${image.workspace} of organization ${found.org}, but the component is published in namespace ${namespace}; push the image to a workspace of ${namespace}, or publish in ${found.org}.`,
        { path: '$.spec.image' },
      );
    }
    const existing = await this.findComponent(namespace, name);
    await this.access.requirePublish(principal, namespace, found.project);
    if (existing && existing.project !== found.project) await this.access.requirePublish(principal, namespace, existing.project);
    const actor = principal.kind === 'user' ? principal.username : 'anonymous';
    return this.recordVersion(manifest, image, found, actor, principal.kind === 'user' ? principal.userId : undefined);
  }

  /**
   * Publishes a version on the platform's behalf (the official components): the same
   * checks of the manifest and the same event as any publication, with `actor` as the
   * publisher and no caller whose rights count. The image was found by the caller.
   */
  async publishAsPlatform(document: object, found: FoundImage, actor: string): Promise<ComponentVersionView> {
    const manifest = readManifest(document, 'object');
    const image = this.imageOf(manifest);
    if (found.org !== manifest.metadata.namespace) {
      throw new UnprocessableError('COMPONENT.IMAGE_OUTSIDE_NAMESPACE', `The image ${manifest.spec.image} is kept in organization ${found.org}, not ${manifest.metadata.namespace}.`, {
        path: '$.spec.image',
      });
    }
    return this.recordVersion(manifest, image, found, actor, undefined);
  }

  /** Every version of a component with the digest it pins, in no order (empty when the component does not exist). */
  async pinnedDigests(namespace: string, name: string): Promise<{ version: string; imageDigest: string }[]> {
    const rows = await this.runtime.db.query<VersionRow[]>('SELECT version, image_digest FROM nucleus_component_versions WHERE namespace = ? AND name = ?', [namespace, name]);
    return rows.map((row) => ({ version: row.version, imageDigest: row.image_digest }));
  }

  private async recordVersion(manifest: ComponentManifest, image: ImageReference, found: FoundImage, actor: string, actorId: string | undefined): Promise<ComponentVersionView> {
    const { namespace, name, version } = manifest.metadata;
    const published: ComponentPublished = {
      namespace,
      name,
      version,
      project: found.project,
      manifest,
      imageDigest: found.digest,
      pinnedImage: pinnedReference(image, found.digest),
      visibility: manifest.metadata.visibility,
      publishedBy: actor,
      ...(actorId ? { publishedById: actorId } : {}),
    };
    const stream = componentStream(namespace, name);
    let recorded: RecordedEvent<object>[] | undefined;
    for (let attempt = 1; !recorded; attempt++) {
      const history = await this.runtime.store.readStream(stream);
      if (history.some((event) => event.type === 'ComponentPublished' && (event.data as unknown as ComponentPublished).version === version)) {
        throw new ConflictError(
          'COMPONENT.VERSION_EXISTS',
          `Version ${version} of ${namespace}/${name} is published already, and a published version never changes; raise metadata.version (e.g. to ${semver.inc(version, 'patch') ?? 'a higher version'}) and publish again.`,
          { namespace, name, version },
        );
      }
      try {
        recorded = await this.runtime.store.append<object>(stream, history.length || 'no-stream', [{ type: 'ComponentPublished', data: published }], { actor, tenant: namespace });
      } catch (error) {
        if (!(error instanceof ConcurrencyConflictError)) throw error;
        if (attempt >= PUBLISH_ATTEMPTS) {
          throw new ConflictError('COMPONENT.CHANGED', `${namespace}/${name} is being changed by others right now; retry in a moment.`);
        }
      }
    }
    await this.runtime.projections.settle(recorded[recorded.length - 1].position);
    return this.requireVersionRow(namespace, name, version);
  }

  async list(principal: Principal, filter: ListFilter): Promise<{ items: ComponentSummary[]; page: number; pageSize: number; total: number }> {
    const pageSize = Math.min(Math.max(Math.floor(filter.pageSize || COMPONENT_LIST_LIMITS.defaultPageSize), 1), COMPONENT_LIST_LIMITS.maxPageSize);
    const page = Math.max(Math.floor(filter.page || 1), 1);
    const visible = await this.access.visibleCondition(principal, 'c.place', 'c.visibility');
    const where = [visible.sql];
    const parameters = [...visible.parameters];
    if (filter.namespace) {
      where.push('c.namespace = ?');
      parameters.push(filter.namespace);
    }
    if (filter.name) {
      where.push("LOWER(c.name) LIKE ? ESCAPE '!'");
      parameters.push(`%${likeEscape(filter.name.toLowerCase())}%`);
    }
    if (filter.label) {
      where.push('EXISTS (SELECT 1 FROM nucleus_component_labels l WHERE l.namespace = c.namespace AND l.name = c.name AND l.label = ?)');
      parameters.push(filter.label.toLowerCase());
    }
    const words = (filter.q ?? '').toLowerCase().split(/\s+/).filter(Boolean).slice(0, COMPONENT_LIST_LIMITS.queryWords);
    for (const word of words) {
      where.push("(LOWER(c.name) LIKE ? ESCAPE '!' OR LOWER(c.description) LIKE ? ESCAPE '!' OR LOWER(c.labels) LIKE ? ESCAPE '!' OR c.namespace = ?)");
      const pattern = `%${likeEscape(word)}%`;
      parameters.push(pattern, pattern, pattern, word);
    }
    const clause = `WHERE ${where.join(' AND ')}`;
    const [count] = await this.runtime.db.query<{ total: number | string }[]>(`SELECT COUNT(*) AS total FROM nucleus_components c ${clause}`, parameters);
    const total = Number(count.total);
    const offset = (page - 1) * pageSize;
    const rows =
      offset < total
        ? await this.runtime.db.query<ComponentRow[]>(`SELECT c.* FROM nucleus_components c ${clause} ORDER BY c.namespace, c.name LIMIT ${pageSize} OFFSET ${offset}`, parameters)
        : [];
    return { items: rows.map(toSummary), page, pageSize, total };
  }

  async get(principal: Principal, namespace: string, name: string): Promise<ComponentDetail> {
    const component = await this.requireVisible(principal, namespace, name);
    const rows = await this.runtime.db.query<VersionRow[]>(
      'SELECT version, image_digest, deprecated, yanked, published_at FROM nucleus_component_versions WHERE namespace = ? AND name = ?',
      [namespace, name],
    );
    const versions = rows
      .map((row) => ({ version: row.version, imageDigest: row.image_digest, deprecated: flag(row.deprecated), yanked: flag(row.yanked), publishedAt: iso(row.published_at) }))
      .sort((a, b) => semver.rcompare(a.version, b.version));
    return { ...toSummary(component), versions };
  }

  async getVersion(principal: Principal, namespace: string, name: string, version: string): Promise<ComponentVersionView> {
    await this.requireVisible(principal, namespace, name);
    return this.requireVersionRow(namespace, name, version);
  }

  /**
   * The highest version matching `range` that is not yanked. Pre-releases match only a
   * range that names a pre-release of the same MAJOR.MINOR.PATCH (`^2.0.0-rc.1`), as
   * npm ranges do.
   */
  async resolve(principal: Principal, namespace: string, name: string, range: string): Promise<ResolvedComponentView> {
    await this.requireVisible(principal, namespace, name);
    const rows = await this.runtime.db.query<{ version: string; yanked: number | string }[]>('SELECT version, yanked FROM nucleus_component_versions WHERE namespace = ? AND name = ?', [
      namespace,
      name,
    ]);
    const resolved = resolveRange(
      rows.map((row) => ({ version: row.version, yanked: flag(row.yanked) })),
      range,
    );
    if (!resolved.ok) {
      if (resolved.reason === 'invalid-range') {
        throw new InvalidInputError(
          'COMPONENT.RANGE_INVALID',
          `${JSON.stringify(range.slice(0, 200))} is not a version range; use an exact version (1.2.3), a caret (^1.2), a tilde (~1.2.3), a wildcard (1.x) or a comparison (>=1.2.0 <2.0.0).`,
        );
      }
      const yanked = resolved.yankedMatches.length ? ` (matching but yanked: ${resolved.yankedMatches.slice(0, 5).join(', ')})` : '';
      throw new NotFoundError(
        'COMPONENT.NO_MATCHING_VERSION',
        `No version of ${namespace}/${name} that is not yanked matches ${JSON.stringify(range)}${yanked}; list its versions with GET /api/v1/components/${namespace}/${name}.`,
        { range, yankedMatches: resolved.yankedMatches },
      );
    }
    const view = await this.requireVersionRow(namespace, name, resolved.version);
    const spec = view.manifest.spec;
    return {
      namespace,
      name,
      range: resolved.range,
      version: view.version,
      pinnedImage: view.pinnedImage,
      imageDigest: view.imageDigest,
      command: spec.command ?? null,
      env: spec.env,
      overridable: spec.overridable,
      inputs: spec.inputs ?? null,
      outputs: spec.outputs,
      timeout: spec.timeout ?? null,
      resources: spec.resources ?? null,
      deprecated: view.deprecated,
      deprecationMessage: view.deprecationMessage,
    };
  }

  /** Marks a version deprecated: it still resolves, and workflows that use it get the message as a warning. */
  async deprecate(principal: Principal, namespace: string, name: string, version: string, message: string): Promise<ComponentVersionView> {
    const component = await this.requireVisible(principal, namespace, name);
    await this.access.requireChange(principal, 'component:deprecate', component);
    const current = await this.requireVersionRow(namespace, name, version);
    if (current.deprecated && current.deprecationMessage === message) return current;
    const data: ComponentDeprecated = { namespace, name, version: current.version, message };
    return this.record(principal, namespace, name, current.version, { type: 'ComponentDeprecated', data });
  }

  /** Yanks a version: ranges no longer resolve to it; revisions that pinned it still run. */
  async yank(principal: Principal, namespace: string, name: string, version: string, reason: string): Promise<ComponentVersionView> {
    const component = await this.requireVisible(principal, namespace, name);
    await this.access.requireChange(principal, 'component:deprecate', component);
    const current = await this.requireVersionRow(namespace, name, version);
    if (current.yanked) return current;
    const data: ComponentYanked = { namespace, name, version: current.version, reason };
    return this.record(principal, namespace, name, current.version, { type: 'ComponentYanked', data });
  }

  private async record(principal: Principal, namespace: string, name: string, version: string, event: { type: string; data: object }): Promise<ComponentVersionView> {
    const actor = principal.kind === 'user' ? principal.username : 'anonymous';
    // Deprecations and yanks only add to a stream; any position is right for them.
    const recorded = await this.runtime.store.append<object>(componentStream(namespace, name), 'any', [event], { actor, tenant: namespace });
    await this.runtime.projections.settle(recorded[recorded.length - 1].position);
    return this.requireVersionRow(namespace, name, version);
  }

  private imageOf(manifest: ComponentManifest): ImageReference {
    let image: ImageReference;
    try {
      image = parseImageReference(manifest.spec.image);
    } catch (error) {
      if (error instanceof ImageReferenceError) throw new ManifestInvalidError([{ path: '$.spec.image', message: error.message }]);
      throw error;
    }
    if (!this.settings.registryHosts.includes(image.host)) {
      throw new UnprocessableError(
        'COMPONENT.IMAGE_NOT_IN_DOCKYARD',
        `spec.image names the registry ${image.host}, which is not this platform's dockyard (${this.settings.registryHosts.join(', ')}); push the image to dockyard and name it there, so that it can be pinned by digest.`,
        { path: '$.spec.image', registryHosts: this.settings.registryHosts },
      );
    }
    return image;
  }

  private async findComponent(namespace: string, name: string): Promise<ComponentRow | undefined> {
    const [row] = await this.runtime.db.query<ComponentRow[]>('SELECT * FROM nucleus_components WHERE namespace = ? AND name = ?', [namespace, name]);
    return row;
  }

  private async requireVisible(principal: Principal, namespace: string, name: string): Promise<ComponentRow> {
    const component = await this.findComponent(namespace, name);
    if (!component) throw componentNotFound(namespace, name);
    await this.access.requireView(principal, component);
    return component;
  }

  private async requireVersionRow(namespace: string, name: string, version: string): Promise<ComponentVersionView> {
    const [row] = await this.runtime.db.query<VersionRow[]>('SELECT * FROM nucleus_component_versions WHERE namespace = ? AND name = ? AND version = ?', [namespace, name, version]);
    if (!row) {
      throw new NotFoundError('COMPONENT.VERSION_NOT_FOUND', `${namespace}/${name} has no version ${JSON.stringify(version.slice(0, 140))}; list its versions with GET /api/v1/components/${namespace}/${name}.`);
    }
    return toVersionView(row);
  }
}

function toSummary(row: ComponentRow): ComponentSummary {
  return {
    namespace: row.namespace,
    name: row.name,
    project: row.project,
    visibility: row.visibility,
    description: row.description,
    labels: JSON.parse(row.labels) as string[],
    latestVersion: row.latest_version ?? null,
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
  };
}

function toVersionView(row: VersionRow): ComponentVersionView {
  return {
    namespace: row.namespace,
    name: row.name,
    version: row.version,
    project: row.project,
    visibility: row.visibility,
    image: row.image,
    imageDigest: row.image_digest,
    pinnedImage: row.pinned_image,
    deprecated: flag(row.deprecated),
    deprecationMessage: row.deprecation_message ?? null,
    yanked: flag(row.yanked),
    yankReason: row.yank_reason ?? null,
    publishedBy: row.published_by,
    publishedAt: iso(row.published_at),
    manifest: JSON.parse(row.manifest) as ComponentManifest,
  };
}

function flag(value: number | string): boolean {
  return Number(value) === 1;
}

function iso(value: Date | string): string {
  return new Date(value).toISOString();
}

function likeEscape(text: string): string {
  return text.replace(/[!%_]/g, (c) => `!${c}`);
}
