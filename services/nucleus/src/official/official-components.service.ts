import { Inject, Injectable, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import type { Logger } from 'pino';
import * as semver from 'semver';
import { ConflictError, DomainError, RetryingRounds, type RoundOutcome } from '@co/common';
import { SERVICE_RUNTIME, type ServiceRuntime } from '@co/service-kit';
import { ComponentsService } from '../components/components.service';
import { DockyardImages } from '../components/dockyard-images';
import { parseImageReference } from '../components/image-reference';
import { NUCLEUS_SETTINGS, type NucleusSettings } from '../nucleus-settings';
import {
  lineOf,
  OFFICIAL_COMPONENTS,
  OFFICIAL_NAMESPACE,
  OFFICIAL_PROJECT,
  OFFICIAL_PUBLISHER,
  officialManifest,
  type OfficialComponent,
} from './official-manifests';

/** First and longest wait between rounds while dockyard does not hold every image yet. */
const RETRY_MS = { first: 1_000, longest: 60_000 } as const;
/** Publications of one component in a round when other replicas keep taking the version. */
const ATTEMPTS = 3;

/** What became of one official component in a round. */
export type OfficialOutcome =
  | { name: string; status: 'published' | 'current'; version: string; digest: string }
  | { name: string; status: 'waiting'; reason: string };

/**
 * Publishes the official components when nucleus starts, in the background: for each,
 * the digest dockyard's public workspace `official` holds under the component's
 * version line is looked up anonymously; when no version of the line pins it yet, it
 * is published as the line's next version (the first time: the line's `.0`), through
 * the same path as any publication (manifest checks, `ComponentPublished`), with the
 * platform (`system`) as publisher. Rounds repeat with a growing wait, then every
 * minute, so that an image dockyard builds or rebuilds later is published. Replicas and restarts agree:
 * a digest already pinned is never published again, and a version another replica
 * took at the same moment is read back, not duplicated.
 */
@Injectable()
export class OfficialComponentsService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger: Logger;
  private readonly reported = new Set<string>();
  private readonly rounds: RetryingRounds;

  constructor(
    @Inject(NUCLEUS_SETTINGS) private readonly settings: NucleusSettings,
    private readonly components: ComponentsService,
    private readonly images: DockyardImages,
    @Inject(SERVICE_RUNTIME) runtime: ServiceRuntime,
  ) {
    this.logger = runtime.logger.child({ component: 'official-components' });
    this.rounds = new RetryingRounds(() => this.round(), {
      firstMs: RETRY_MS.first,
      longestMs: RETRY_MS.longest,
      // Not a wait for dockyard: a failure of this service (its database, say), tried again all the same.
      onError: (error, waitMs) =>
        this.logger.warn(`publishing the official components failed (${(error as Error).message}); trying again in ${Math.round(waitMs / 1000)} s`),
    });
  }

  onApplicationBootstrap(): void {
    if (this.settings.officialComponents) this.rounds.start();
  }

  beforeApplicationShutdown(): Promise<void> {
    return this.rounds.stop();
  }

  /** One round over every official component. */
  async seed(): Promise<OfficialOutcome[]> {
    const outcomes: OfficialOutcome[] = [];
    for (const component of OFFICIAL_COMPONENTS) {
      if (this.rounds.isStopped) break;
      outcomes.push(await this.seedOne(component));
    }
    return outcomes;
  }

  private async round(): Promise<RoundOutcome> {
    const outcomes = await this.seed();
    for (const outcome of outcomes) {
      if (outcome.status === 'published') this.logger.info(`published ${OFFICIAL_NAMESPACE}/${outcome.name}@${outcome.version} (${outcome.digest})`);
    }
    const waiting = outcomes.filter((outcome) => outcome.status === 'waiting').map((outcome) => (outcome.status === 'waiting' ? `${outcome.name}: ${outcome.reason}` : ''));
    if (waiting.length) {
      const summary = waiting.join('; ');
      // Said once per reason: dockyard may take a while, and the rounds go on quietly.
      if (!this.reported.has(summary)) {
        this.reported.add(summary);
        this.logger.info(`official components not all published yet (${summary}); trying again until dockyard holds their images`);
      }
    }
    // Rounds go on even when all is published: dockyard rebuilds an image when its Debian
    // packages change (at its own start), and the new digest is the line's next version.
    return 'again';
  }

  private async seedOne(component: OfficialComponent): Promise<OfficialOutcome> {
    const line = lineOf(component.version);
    const host = this.settings.registryHosts[0];
    const image = parseImageReference(`${host}/${OFFICIAL_NAMESPACE}/${component.name}:${line}`);
    let digest: string | undefined;
    try {
      digest = await this.images.publicDigest({ ...image, tag: line });
    } catch (error) {
      if (error instanceof DomainError) return { name: component.name, status: 'waiting', reason: error.message };
      throw error;
    }
    if (!digest) return { name: component.name, status: 'waiting', reason: `dockyard holds no public image ${OFFICIAL_NAMESPACE}/${component.name}:${line}` };
    for (let attempt = 1; ; attempt++) {
      const versions = (await this.components.pinnedDigests(OFFICIAL_NAMESPACE, component.name)).filter((entry) => lineOf(entry.version) === line);
      const pinned = versions.find((entry) => entry.imageDigest === digest);
      if (pinned) return { name: component.name, status: 'current', version: pinned.version, digest };
      const highest = versions.map((entry) => entry.version).sort(semver.rcompare)[0];
      const version = highest ? (semver.inc(highest, 'patch') as string) : component.version;
      try {
        await this.components.publishAsPlatform(officialManifest(component, version, host), { org: OFFICIAL_NAMESPACE, project: OFFICIAL_PROJECT, digest }, OFFICIAL_PUBLISHER);
        return { name: component.name, status: 'published', version, digest };
      } catch (error) {
        // Another replica published this version (perhaps with this digest) at the same moment: read again.
        if (!(error instanceof ConflictError) || attempt >= ATTEMPTS) throw error;
      }
    }
  }
}
