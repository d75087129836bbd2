import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { crew, protoFile } from '@co/proto';
import { injectTraceHeaders } from '@co/telemetry';
import { AccessUnavailableError } from '../errors';

type Callback<T> = (error: grpc.ServiceError | null, response?: T) => void;
type Unary<Request, Response> = (request: Request, metadata: grpc.Metadata, options: grpc.CallOptions, callback: Callback<Response>) => void;

/** The messages are ts-proto's types of crew.proto: @grpc/proto-loader with keepCase false reads them so. */
interface AccessServiceStub extends grpc.Client {
  introspectToken: Unary<crew.IntrospectTokenRequest, crew.IntrospectTokenResponse>;
  authorize: Unary<crew.AuthorizeRequest, crew.AuthorizeResponse>;
  listScope: Unary<crew.ListScopeRequest, crew.ListScopeResponse>;
  getQuota: Unary<crew.GetQuotaRequest, crew.GetQuotaResponse>;
}

let definition: grpc.GrpcObject | undefined;

function accessServiceConstructor(): new (address: string, credentials: grpc.ChannelCredentials) => AccessServiceStub {
  definition ??= grpc.loadPackageDefinition(
    protoLoader.loadSync(protoFile('containerops/crew/v1/crew.proto'), { keepCase: false, longs: Number, enums: String, defaults: true, oneofs: true }),
  );
  const v1 = ((definition.containerops as grpc.GrpcObject).crew as grpc.GrpcObject).v1 as grpc.GrpcObject;
  return v1.AccessService as unknown as new (address: string, credentials: grpc.ChannelCredentials) => AccessServiceStub;
}

/**
 * containerops.crew.v1.AccessService over plain grpc-js. Every call carries the caller's
 * trace (`traceparent`) and a deadline; a crew that does not answer is an
 * AccessUnavailableError (503), never a decision.
 */
export class AccessServiceClient {
  private readonly stub: AccessServiceStub;

  constructor(
    readonly address: string,
    private readonly deadlineMs: number,
  ) {
    const AccessService = accessServiceConstructor();
    this.stub = new AccessService(address, grpc.credentials.createInsecure());
  }

  introspectToken(request: crew.IntrospectTokenRequest): Promise<crew.IntrospectTokenResponse> {
    return this.call('introspectToken', request);
  }

  authorize(request: crew.AuthorizeRequest): Promise<crew.AuthorizeResponse> {
    return this.call('authorize', request);
  }

  listScope(request: crew.ListScopeRequest): Promise<crew.ListScopeResponse> {
    return this.call('listScope', request);
  }

  getQuota(request: crew.GetQuotaRequest): Promise<crew.GetQuotaResponse> {
    return this.call('getQuota', request);
  }

  close(): void {
    this.stub.close();
  }

  private call<K extends 'introspectToken' | 'authorize' | 'listScope' | 'getQuota'>(
    method: K,
    request: Parameters<AccessServiceStub[K]>[0],
  ): Promise<Parameters<Parameters<AccessServiceStub[K]>[3]>[1] & object> {
    const metadata = new grpc.Metadata();
    for (const [key, value] of Object.entries(injectTraceHeaders({}))) {
      if (typeof value === 'string') metadata.set(key, value);
    }
    return new Promise((resolve, reject) => {
      const unary = this.stub[method] as Unary<typeof request, unknown>;
      unary.call(this.stub, request, metadata, { deadline: Date.now() + this.deadlineMs }, (error, response) => {
        if (error) reject(unavailable(method, error));
        else resolve(response as never);
      });
    });
  }
}

function unavailable(method: string, error: grpc.ServiceError): AccessUnavailableError {
  const status = grpc.status[error.code] ?? String(error.code);
  return new AccessUnavailableError(`crew's ${method} answered ${status}`);
}
