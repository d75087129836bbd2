import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { Logger } from 'pino';
import { RetryingRounds } from '@co/common';
import { protoFile } from '@co/proto';
import { injectTraceHeaders } from '@co/telemetry';

export interface RunMasks {
  org: string;
  project: string;
  run: string;
  values: string[];
}

/** What hands a run's secret values to the log service (a LogMaskClient, or a stand-in in tests). */
export interface LogMaskRegistry {
  registerRunMasks(masks: RunMasks): Promise<void>;
  close(): void;
}

type Unary<Request, Response> = (
  request: Request,
  metadata: grpc.Metadata,
  options: grpc.CallOptions,
  callback: (error: grpc.ServiceError | null, response?: Response) => void,
) => void;

interface LogMaskServiceStub extends grpc.Client {
  registerRunMasks: Unary<RunMasks, { values: number }>;
}

let definition: grpc.GrpcObject | undefined;

function logMaskServiceConstructor(): new (address: string, credentials: grpc.ChannelCredentials) => LogMaskServiceStub {
  definition ??= grpc.loadPackageDefinition(
    protoLoader.loadSync(protoFile('containerops/logarithm/v1/logarithm.proto'), { keepCase: false, longs: Number, enums: String, defaults: true, oneofs: true }),
  );
  const v1 = ((definition.containerops as grpc.GrpcObject).logarithm as grpc.GrpcObject).v1 as grpc.GrpcObject;
  return v1.LogMaskService as unknown as new (address: string, credentials: grpc.ChannelCredentials) => LogMaskServiceStub;
}

export const LOG_MASK_DEADLINE_MS = 5000;

/**
 * containerops.logarithm.v1.LogMaskService as the engine uses it: a cluster-internal call
 * (like crew's AccessService) that carries the values in its body only. A failure's
 * message is grpc-js' status text, which never holds the request.
 */
export class LogMaskClient implements LogMaskRegistry {
  private stub?: LogMaskServiceStub;

  constructor(
    readonly address: string,
    private readonly deadlineMs = LOG_MASK_DEADLINE_MS,
  ) {}

  registerRunMasks(masks: RunMasks): Promise<void> {
    const LogMaskService = logMaskServiceConstructor();
    this.stub ??= new LogMaskService(this.address, grpc.credentials.createInsecure());
    const stub = this.stub;
    const metadata = new grpc.Metadata();
    for (const [key, value] of Object.entries(injectTraceHeaders({}))) {
      if (typeof value === 'string') metadata.set(key, value);
    }
    return new Promise((resolve, reject) => {
      stub.registerRunMasks(masks, metadata, { deadline: Date.now() + this.deadlineMs }, (error) => {
        if (error) reject(new Error(`logarithm at ${this.address} answered ${grpc.status[error.code] ?? error.code}`));
        else resolve();
      });
    });
  }

  close(): void {
    this.stub?.close();
    this.stub = undefined;
  }
}

const RETRY_FIRST_MS = 1000;
const RETRY_MAX_MS = 60_000;

/**
 * Registers each run's secret values with logarithm before its first task starts. The
 * engine masks every line itself before it leaves pilotage, so logarithm's copy is a
 * second guard (for lines that reach logarithm by other paths): when logarithm cannot be
 * reached the run goes on, a warning (names and run only) is logged, and the
 * registration is retried in the background until it succeeds or the run ends.
 */
export class LogMaskRegistrar {
  /** Per run being registered: what stands for its current registration, and its background retries once the first attempt failed. */
  private readonly registrations = new Map<string, { retries?: RetryingRounds }>();

  constructor(
    private readonly registry: LogMaskRegistry,
    private readonly logger: Logger,
  ) {}

  /** Resolves after the first attempt, whatever its outcome. */
  async register(masks: RunMasks): Promise<void> {
    if (masks.values.length === 0) return;
    this.forget(masks.run);
    const registration: { retries?: RetryingRounds } = {};
    this.registrations.set(masks.run, registration);
    try {
      await this.registry.registerRunMasks(masks);
    } catch (error) {
      // The run ended, or a newer registration took over, while this attempt was under way.
      if (this.registrations.get(masks.run) !== registration) return;
      this.warn(masks.run, error, RETRY_FIRST_MS);
      registration.retries = this.retries(masks);
      // register() made the first attempt: the first retry waits.
      registration.retries.start({ waitFirst: true });
      return;
    }
    if (this.registrations.get(masks.run) === registration) this.registrations.delete(masks.run);
  }

  /** Stops retrying for a run (it ended, or the engine stops). */
  forget(run: string): void {
    void this.registrations.get(run)?.retries?.stop();
    this.registrations.delete(run);
  }

  close(): void {
    for (const run of [...this.registrations.keys()]) this.forget(run);
    this.registry.close();
  }

  private retries(masks: RunMasks): RetryingRounds {
    const rounds: RetryingRounds = new RetryingRounds(
      async () => {
        await this.registry.registerRunMasks(masks);
        if (rounds.isStopped) return 'done';
        this.logger.info({ run: masks.run }, "registered the run's secret masks with logarithm after retrying");
        if (this.registrations.get(masks.run)?.retries === rounds) this.registrations.delete(masks.run);
        return 'done';
      },
      { firstMs: RETRY_FIRST_MS, longestMs: RETRY_MAX_MS, onError: (error, waitMs) => this.warn(masks.run, error, waitMs) },
    );
    return rounds;
  }

  private warn(run: string, error: unknown, retryInMs: number): void {
    this.logger.warn(
      { run, retryInMs, reason: (error as Error).message },
      "could not register the run's secret masks with logarithm; task lines are masked by pilotage anyway; retrying",
    );
  }
}
