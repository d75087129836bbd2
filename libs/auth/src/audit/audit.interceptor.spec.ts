import type { ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { Metadata } from '@grpc/grpc-js';
import { PATTERN_METADATA } from '@nestjs/microservices/constants';
import pino from 'pino';
import { lastValueFrom, of, throwError } from 'rxjs';
import { InProcessBus, type DeliveredMessage, type EventBus } from '@co/bus';
import { NotFoundError } from '@co/common';
import { AUTH_CONTEXT, Authorize, type AuthContext } from '../decorators';
import { AuditPublisher } from './audit-publisher';
import type { AuditRecord } from './audit-record';
import { isMutatingRpc } from './audit-calls';
import { AuditInterceptor } from './audit.interceptor';
import { AuditRefusalsOnly, NotAudited } from './not-audited.decorator';

class WorkflowsGrpc {
  @Authorize('workflow:delete', { param: 'id' })
  deleteWorkflow() {}

  createWorkflow() {}

  getWorkflow() {}

  @NotAudited('recorded in the run events')
  reportTaskEvent() {}

  @AuditRefusalsOnly('successes are recorded in the run events')
  reportTaskResult() {}
}
for (const [method, rpc] of [
  ['deleteWorkflow', 'DeleteWorkflow'],
  ['createWorkflow', 'CreateWorkflow'],
  ['getWorkflow', 'GetWorkflow'],
  ['reportTaskEvent', 'ReportTaskEvent'],
  ['reportTaskResult', 'ReportTaskResult'],
] as const) {
  Reflect.defineMetadata(PATTERN_METADATA, [{ service: 'containerops.pilotage.v1.Workflows', rpc }], WorkflowsGrpc.prototype[method]);
}

function rpcContext(method: keyof WorkflowsGrpc, data: Record<string, unknown>, auth?: AuthContext): ExecutionContext {
  const metadata = new Metadata();
  metadata.set('traceparent', '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01');
  if (auth) (metadata as unknown as Record<symbol, AuthContext>)[AUTH_CONTEXT] = auth;
  const call = { getPeer: () => 'ipv4:10.1.2.3:51234' };
  return {
    getType: () => 'rpc',
    getHandler: () => WorkflowsGrpc.prototype[method],
    getClass: () => WorkflowsGrpc,
    getArgByIndex: (index: number) => [data, metadata, call][index],
    switchToRpc: () => ({ getData: () => data, getContext: () => metadata }),
  } as unknown as ExecutionContext;
}

describe('AuditInterceptor (gRPC calls)', () => {
  let bus: InProcessBus;
  let publisher: AuditPublisher;
  let interceptor: AuditInterceptor;
  let received: AuditRecord[];

  beforeEach(async () => {
    bus = new InProcessBus({ logger: pino({ level: 'silent' }), subjectPrefix: 'co' });
    await bus.connect();
    received = [];
    await bus.subscribe({
      durable: 'test',
      subject: 'co.pilotage.audit.>',
      handler: async (message: DeliveredMessage) => void received.push((message.data as { data: AuditRecord }).data),
    });
    publisher = new AuditPublisher(bus, { service: 'pilotage', subjectPrefix: 'co', logger: pino({ level: 'silent' }) });
    interceptor = new AuditInterceptor(new Reflector(), publisher);
  });
  afterEach(async () => {
    await bus.close();
  });

  async function delivered(count: number) {
    await publisher.flush();
    for (let i = 0; i < 100 && received.length < count; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    return received;
  }

  it('tells reading methods from mutating ones by name', () => {
    for (const name of ['GetWorkflow', 'ListRuns', 'Watch', 'Check', 'Authorize', 'IntrospectToken', 'getQuota']) expect(isMutatingRpc(name)).toBe(false);
    for (const name of ['CreateWorkflow', 'DeleteWorkflow', 'StartRun', 'StopRun', 'UpdateWorkflow']) expect(isMutatingRpc(name)).toBe(true);
  });

  it('records a successful mutating call with the declared action, caller, resource, peer and trace id', async () => {
    const auth: AuthContext = {
      principal: { kind: 'user', userId: 'u-1', username: 'alice', tokenId: 't-9' },
      action: 'workflow:delete',
      resource: { org: 'acme', project: 'web', id: 'wf-1' },
    };
    await lastValueFrom(interceptor.intercept(rpcContext('deleteWorkflow', { id: 'wf-1', definition: 'secret body' }, auth), { handle: () => of({}) }));
    const [record] = await delivered(1);
    expect(record).toMatchObject({
      service: 'pilotage',
      actor: { kind: 'user', userId: 'u-1', username: 'alice', tokenId: 't-9' },
      action: 'workflow:delete',
      transport: 'grpc',
      operation: 'containerops.pilotage.v1.Workflows/DeleteWorkflow',
      outcome: 'success',
      status: 200,
      org: 'acme',
      project: 'web',
      target: { id: 'wf-1' },
      sourceAddress: 'ipv4:10.1.2.3:51234',
      traceId: '0af7651916cd43dd8448eb211c80319c',
    });
    expect(JSON.stringify(record)).not.toContain('secret body');
  });

  it('records a failure with the code and status the caller gets; reads and excluded methods are not recorded', async () => {
    const failing = interceptor.intercept(rpcContext('createWorkflow', { project: 'acme/web' }, { principal: { kind: 'anonymous' } }), {
      handle: () => throwError(() => new NotFoundError('PROJECT.NOT_FOUND', 'No project acme/web.')),
    });
    await expect(lastValueFrom(failing)).rejects.toThrow('No project acme/web.');
    await lastValueFrom(interceptor.intercept(rpcContext('getWorkflow', { id: 'x' }), { handle: () => of({}) }));
    await lastValueFrom(interceptor.intercept(rpcContext('reportTaskEvent', { id: 'x' }), { handle: () => of({}) }));
    await expect(lastValueFrom(interceptor.intercept(rpcContext('reportTaskEvent', { id: 'x' }), { handle: () => throwError(() => new Error('no')) }))).rejects.toThrow();
    await lastValueFrom(interceptor.intercept(rpcContext('reportTaskResult', { id: 'x' }), { handle: () => of({}) }));
    const refusedResult = interceptor.intercept(rpcContext('reportTaskResult', { id: 'y' }), {
      handle: () => throwError(() => new NotFoundError('RUN.NOT_FOUND', 'No run y.')),
    });
    await expect(lastValueFrom(refusedResult)).rejects.toThrow();
    const records = await delivered(2);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(records).toHaveLength(2);
    expect(records[1]).toMatchObject({ operation: 'containerops.pilotage.v1.Workflows/ReportTaskResult', outcome: 'failure', target: { id: 'y' } });
    expect(records[0]).toMatchObject({
      action: 'containerops.pilotage.v1.Workflows/CreateWorkflow',
      actor: { kind: 'anonymous' },
      outcome: 'failure',
      status: 404,
      errorCode: 'PROJECT.NOT_FOUND',
      org: 'acme',
      project: 'web',
    });
  });

  it('never fails the call when the bus cannot publish', async () => {
    const warnings: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(line) });
    const broken = { publish: () => Promise.reject(new Error('bus down')) } as unknown as EventBus;
    const failingPublisher = new AuditPublisher(broken, { service: 'pilotage', subjectPrefix: 'co', logger });
    const audited = new AuditInterceptor(new Reflector(), failingPublisher);
    await expect(lastValueFrom(audited.intercept(rpcContext('createWorkflow', {}), { handle: () => of({ id: 'new' }) }))).resolves.toEqual({ id: 'new' });
    await failingPublisher.flush();
    expect(warnings.join('\n')).toContain('audit record could not be published');
  });
});
