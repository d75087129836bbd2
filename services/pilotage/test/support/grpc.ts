import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { protoFile } from '@co/proto';

type Unary = (request: object, metadata: grpc.Metadata, callback: (error: grpc.ServiceError | null, response: any) => void) => void;
export type GrpcClient = grpc.Client & Record<string, Unary>;

/** containerops.pilotage.v1 clients at `address`, as any other language would call it (plain grpc-js, proto loaded at run time). */
export function pilotageClients(address: string): { workflows: GrpcClient; runs: GrpcClient; close(): void } {
  const loaded = grpc.loadPackageDefinition(protoLoader.loadSync(protoFile('containerops/pilotage/v1/pilotage.proto'), { keepCase: false, defaults: true })) as any;
  const v1 = loaded.containerops.pilotage.v1;
  const workflows = new v1.WorkflowService(address, grpc.credentials.createInsecure()) as GrpcClient;
  const runs = new v1.RunService(address, grpc.credentials.createInsecure()) as GrpcClient;
  return {
    workflows,
    runs,
    close() {
      workflows.close();
      runs.close();
    },
  };
}

/** A unary call with `Authorization: Bearer <token>` in its metadata. */
export function invokeAs<T = any>(token: string, client: GrpcClient, method: string, request: object): Promise<T> {
  const metadata = new grpc.Metadata();
  metadata.set('authorization', `Bearer ${token}`);
  return new Promise((resolve, reject) => client[method](request, metadata, (error, response) => (error ? reject(error) : resolve(response))));
}
