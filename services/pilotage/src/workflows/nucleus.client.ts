import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { DomainError, UnavailableError } from '@co/common';
import { nucleus, protoFile } from '@co/proto';
import { injectTraceHeaders } from '@co/telemetry';

type Callback<T> = (error: grpc.ServiceError | null, response?: T) => void;
type Unary<Request, Response> = (request: Request, metadata: grpc.Metadata, options: grpc.CallOptions, callback: Callback<Response>) => void;

interface ComponentServiceStub extends grpc.Client {
  validateWorkflow: Unary<nucleus.ValidateWorkflowRequest, nucleus.ValidateWorkflowResponse>;
}

let definition: grpc.GrpcObject | undefined;

function componentServiceConstructor(): new (address: string, credentials: grpc.ChannelCredentials) => ComponentServiceStub {
  definition ??= grpc.loadPackageDefinition(
    protoLoader.loadSync(protoFile('containerops/nucleus/v1/nucleus.proto'), { keepCase: false, longs: Number, enums: String, defaults: true, oneofs: true }),
  );
  const v1 = ((definition.containerops as grpc.GrpcObject).nucleus as grpc.GrpcObject).v1 as grpc.GrpcObject;
  return v1.ComponentService as unknown as new (address: string, credentials: grpc.ChannelCredentials) => ComponentServiceStub;
}

/** How long a save waits for nucleus before answering 503. */
export const NUCLEUS_DEADLINE_MS = 15_000;

/**
 * containerops.nucleus.v1.ComponentService as pilotage uses it. Every call carries the
 * caller's own credentials (`authorization`: nucleus decides what they may resolve) and
 * trace (`traceparent`). A nucleus that cannot be reached is a 503
 * (WORKFLOW.COMPONENTS_UNAVAILABLE); nucleus' own refusals (a 401 for expired
 * credentials, say) come back with their code.
 */
export class NucleusClient {
  private stub?: ComponentServiceStub;

  constructor(
    readonly address: string,
    private readonly deadlineMs = NUCLEUS_DEADLINE_MS,
  ) {}

  validateWorkflow(request: nucleus.ValidateWorkflowRequest, authorization: string | undefined): Promise<nucleus.ValidateWorkflowResponse> {
    const ComponentService = componentServiceConstructor();
    this.stub ??= new ComponentService(this.address, grpc.credentials.createInsecure());
    const stub = this.stub;
    const metadata = new grpc.Metadata();
    if (authorization) metadata.set('authorization', authorization);
    for (const [key, value] of Object.entries(injectTraceHeaders({}))) {
      if (typeof value === 'string') metadata.set(key, value);
    }
    return new Promise((resolve, reject) => {
      stub.validateWorkflow(request, metadata, { deadline: Date.now() + this.deadlineMs }, (error, response) => {
        if (error) reject(this.failure(error));
        else resolve(response!);
      });
    });
  }

  close(): void {
    this.stub?.close();
    this.stub = undefined;
  }

  private failure(error: grpc.ServiceError): Error {
    const code = error.metadata?.get('error-code')?.[0];
    if (code !== undefined && error.code !== grpc.status.UNAVAILABLE && error.code !== grpc.status.DEADLINE_EXCEEDED) {
      return new NucleusRefusedError(String(code), error.details || error.message, error.code);
    }
    return new UnavailableError(
      'WORKFLOW.COMPONENTS_UNAVAILABLE',
      `The component registry (nucleus at ${this.address}) did not answer (${grpc.status[error.code] ?? error.code}), so the workflow's component actions cannot be resolved; retry in a moment, or ask an administrator to check nucleus and CO_PILOTAGE_NUCLEUS_GRPC_ADDRESS.`,
    );
  }
}

/** nucleus refused the call itself (not a problem of the workflow): its code, passed on. */
export class NucleusRefusedError extends DomainError {
  constructor(code: string, message: string, grpcCode: grpc.status) {
    super(code, message, HTTP_OF_GRPC[grpcCode] ?? 502, grpcCode);
  }
}

const HTTP_OF_GRPC: Partial<Record<grpc.status, number>> = {
  [grpc.status.INVALID_ARGUMENT]: 400,
  [grpc.status.UNAUTHENTICATED]: 401,
  [grpc.status.PERMISSION_DENIED]: 403,
  [grpc.status.NOT_FOUND]: 404,
  [grpc.status.RESOURCE_EXHAUSTED]: 413,
};
