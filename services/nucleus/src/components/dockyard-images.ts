import { Inject, Injectable } from '@nestjs/common';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { DomainError, UnavailableError } from '@co/common';
import { NUCLEUS_SETTINGS, type NucleusSettings } from '../nucleus-settings';
import type { ImageReference } from './image-reference';

/** The manifest types a registry client accepts when it asks for a tag. */
const MANIFEST_TYPES = [
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
];

/** The workspace holding an image, and the digest its tag names now. */
export interface FoundImage {
  org: string;
  project: string;
  digest: string;
}

/** 422: the manifest is well formed, but what it names cannot be used. */
export class UnprocessableError extends DomainError {
  constructor(code: string, message: string, details?: Record<string, unknown>) {
    super(code, message, 422, GrpcStatus.FAILED_PRECONDITION, details);
  }
}

export function imageNotFound(reference: string, why: string): UnprocessableError {
  return new UnprocessableError('COMPONENT.IMAGE_NOT_FOUND', `The image ${reference} cannot be found in dockyard: ${why}. Push it there first (or fix spec.image), then publish again.`, {
    path: '$.spec.image',
  });
}

/**
 * Asks dockyard's REST API about an image, with the caller's own credentials: nucleus
 * only pins what the publisher may pull. A tag is looked up among the repository's
 * tags; a digest must be one that some tag of the repository names.
 */
@Injectable()
export class DockyardImages {
  constructor(@Inject(NUCLEUS_SETTINGS) private readonly settings: NucleusSettings) {}

  async find(image: ImageReference, reference: string, authorization: string | undefined): Promise<FoundImage> {
    const workspace = await this.get<{ org: string; project: string }>(`/api/v1/workspaces/${encodeURIComponent(image.workspace)}`, authorization);
    if (workspace.status === 404) throw imageNotFound(reference, `workspace ${image.workspace} does not exist, or you may not see it`);
    if (workspace.status === 403) throw imageNotFound(reference, `you may not pull from workspace ${image.workspace}`);
    this.expectOk(workspace.status, 'a workspace');
    const tags = await this.get<{ items: { tag: string; digest: string }[] }>(
      `/api/v1/workspaces/${encodeURIComponent(image.workspace)}/repositories/${encodeURIComponent(image.repository)}/tags`,
      authorization,
    );
    if (tags.status === 404) throw imageNotFound(reference, `workspace ${image.workspace} holds no repository ${image.repository}`);
    if (tags.status === 403) throw imageNotFound(reference, `you may not pull from workspace ${image.workspace}`);
    this.expectOk(tags.status, 'a repository’s tags');
    const items = Array.isArray(tags.body?.items) ? tags.body.items : [];
    let digest: string | undefined;
    if (image.digest) {
      digest = items.some((item) => item.digest === image.digest) ? image.digest : undefined;
      if (!digest) throw imageNotFound(reference, `no tag of ${image.workspace}/${image.repository} names ${image.digest} (publish a version that is tagged)`);
    } else {
      digest = items.find((item) => item.tag === image.tag)?.digest;
      if (!digest) throw imageNotFound(reference, `${image.workspace}/${image.repository} has no tag ${image.tag}`);
    }
    return { org: String(workspace.body.org), project: String(workspace.body.project), digest };
  }

  /**
   * The digest a tag names, asked anonymously of dockyard's registry API (`HEAD
   * /v2/<workspace>/<repository>/manifests/<tag>`): what anyone may pull from a public
   * workspace, without credentials. Undefined when the tag does not exist or the
   * workspace is not public; COMPONENT.DOCKYARD_UNAVAILABLE when dockyard does not answer.
   */
  async publicDigest(image: ImageReference & { tag: string }): Promise<string | undefined> {
    let response: Response;
    try {
      response = await fetch(`${this.settings.dockyardUrl}/v2/${image.workspace}/${image.repository}/manifests/${encodeURIComponent(image.tag)}`, {
        method: 'HEAD',
        headers: { accept: MANIFEST_TYPES.join(', ') },
        signal: AbortSignal.timeout(this.settings.dockyardTimeoutMs),
        redirect: 'error',
      });
    } catch (error) {
      throw this.unavailable((error as Error).name === 'TimeoutError' ? `no answer within ${this.settings.dockyardTimeoutMs} ms` : 'it cannot be reached');
    }
    if ([401, 403, 404].includes(response.status)) return undefined;
    if (response.status !== 200) throw this.unavailable(`dockyard answered ${response.status} when asked for ${image.workspace}/${image.repository}:${image.tag}`);
    const digest = response.headers.get('docker-content-digest') ?? '';
    if (!/^sha256:[a-f0-9]{64}$/.test(digest)) throw this.unavailable(`dockyard named no digest for ${image.workspace}/${image.repository}:${image.tag}`);
    return digest;
  }

  private expectOk(status: number, what: string): void {
    if (status === 200) return;
    if (status === 401) {
      throw new DomainError('AUTH.UNAUTHENTICATED', 'dockyard did not accept your credentials; sign in again and retry.', 401, GrpcStatus.UNAUTHENTICATED);
    }
    throw this.unavailable(`dockyard answered ${status} when asked for ${what}`);
  }

  private async get<T>(route: string, authorization: string | undefined): Promise<{ status: number; body: T }> {
    let response: Response;
    try {
      response = await fetch(`${this.settings.dockyardUrl}${route}`, {
        headers: { accept: 'application/json', ...(authorization ? { authorization } : {}) },
        signal: AbortSignal.timeout(this.settings.dockyardTimeoutMs),
        redirect: 'error',
      });
    } catch (error) {
      throw this.unavailable((error as Error).name === 'TimeoutError' ? `no answer within ${this.settings.dockyardTimeoutMs} ms` : 'it cannot be reached');
    }
    const text = await response.text().catch(() => '');
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = undefined;
    }
    return { status: response.status, body: body as T };
  }

  private unavailable(detail: string): UnavailableError {
    return new UnavailableError('COMPONENT.DOCKYARD_UNAVAILABLE', `dockyard cannot check the image right now (${detail}); retry shortly.`);
  }
}
