import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { protoFile } from '@co/proto';

export interface FakeLogMasks {
  address: string;
  /** Requests received, in order. */
  received: { org: string; project: string; run: string; values: string[] }[];
  close(): Promise<void>;
}

/** A stand-in for logarithm's LogMaskService that records what it is given; `port` 0 picks a free one. */
export async function startFakeLogMasks(port = 0): Promise<FakeLogMasks> {
  const definition = grpc.loadPackageDefinition(protoLoader.loadSync(protoFile('containerops/logarithm/v1/logarithm.proto'), { keepCase: false, defaults: true }));
  const v1 = ((definition.containerops as grpc.GrpcObject).logarithm as grpc.GrpcObject).v1 as grpc.GrpcObject;
  const service = (v1.LogMaskService as unknown as { service: grpc.ServiceDefinition }).service;
  const received: FakeLogMasks['received'] = [];
  const server = new grpc.Server();
  server.addService(service, {
    registerRunMasks(call: grpc.ServerUnaryCall<FakeLogMasks['received'][number], unknown>, callback: grpc.sendUnaryData<{ values: number }>) {
      received.push(call.request);
      callback(null, { values: call.request.values.length });
    },
  });
  const bound = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (error, actual) => (error ? reject(error) : resolve(actual))),
  );
  return {
    address: `127.0.0.1:${bound}`,
    received,
    close: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())),
  };
}
