import type { ExecutionContext } from '@nestjs/common';
import { ModuleRef, Reflector } from '@nestjs/core';
import { Metadata } from '@grpc/grpc-js';
import { PATTERN_METADATA } from '@nestjs/microservices/constants';
import pino from 'pino';
import { InProcessBus, type DeliveredMessage } from '@co/bus';
import type { AccessControl } from '../access';
import { AuthGuard } from '../auth.guard';
import { Authenticated, Authorize } from '../decorators';
import { UnauthenticatedError } from '../errors';
import { AuditPublisher } from './audit-publisher';
import type { AuditRecord } from './audit-record';
import { AuditGuard } from './audit.guard';
import { NotAudited } from './not-audited.decorator';

class OrganizationsGrpc {
  @Authorize('organization:create')
  createOrganization() {}

  @Authorize('organization:view')
  getOrganization() {}

  /** Declares no access rule: refused by default. */
  renameOrganization() {}

  @Authenticated()
  @NotAudited('machine traffic recorded elsewhere')
  reportUsage() {}
}
// As ts-proto's generated decorators register them: the handler's own (camelCase) name.
for (const method of ['createOrganization', 'getOrganization', 'renameOrganization', 'reportUsage'] as const) {
  Reflect.defineMetadata(PATTERN_METADATA, [{ service: 'TenancyService', rpc: method }], OrganizationsGrpc.prototype[method]);
}

function rpcContext(method: keyof OrganizationsGrpc, data: Record<string, unknown>, authorization?: string): ExecutionContext {
  const metadata = new Metadata();
  if (authorization) metadata.set('authorization', authorization);
  const call = { getPeer: () => 'ipv4:10.1.2.3:51234' };
  return {
    getType: () => 'rpc',
    getHandler: () => OrganizationsGrpc.prototype[method],
    getClass: () => OrganizationsGrpc,
    getArgByIndex: (index: number) => [data, metadata, call][index],
    switchToRpc: () => ({ getData: () => data, getContext: () => metadata }),
  } as unknown as ExecutionContext;
}

describe('AuditGuard (gRPC calls the auth guard refuses)', () => {
  let bus: InProcessBus;
  let publisher: AuditPublisher;
  let received: AuditRecord[];
  let auditGuard: AuditGuard;
  let authGuard: AuthGuard;

  const access: AccessControl = {
    authenticate: async (credentials) => {
      if (credentials.scheme === 'bearer' && credentials.token === 'good') return { kind: 'user', userId: 'u-1', username: 'alice' };
      throw new UnauthenticatedError('the token is not valid', 'invalid_token');
    },
    authorize: async () => ({ allowed: true, visible: true, reason: '' }),
    listScope: async () => ({ everywhere: true, orgs: [], projects: [], ownEverywhere: false, ownOrgs: [], ownProjects: [] }),
    quota: async () => ({ org: {}, project: {} }),
  };

  /** Runs the guards in the order the service kit registers them. */
  async function guarded(context: ExecutionContext): Promise<unknown> {
    auditGuard.canActivate(context);
    return authGuard.canActivate(context).catch((error: unknown) => error);
  }

  async function delivered(count: number) {
    await publisher.flush();
    for (let i = 0; i < 100 && received.length < count; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    return received;
  }

  beforeEach(async () => {
    bus = new InProcessBus({ logger: pino({ level: 'silent' }), subjectPrefix: 'co' });
    await bus.connect();
    received = [];
    await bus.subscribe({
      durable: 'test',
      subject: 'co.crew.audit.>',
      handler: async (message: DeliveredMessage) => void received.push((message.data as { data: AuditRecord }).data),
    });
    publisher = new AuditPublisher(bus, { service: 'crew', subjectPrefix: 'co', logger: pino({ level: 'silent' }) });
    const reflector = new Reflector();
    auditGuard = new AuditGuard(reflector, publisher);
    authGuard = new AuthGuard(reflector, { get: () => access } as unknown as ModuleRef);
  });
  afterEach(async () => {
    await bus.close();
  });

  it('records a mutating call refused for its credentials, with the code and status the caller gets', async () => {
    const error = await guarded(rpcContext('createOrganization', { name: 'initech', password: 'never recorded' }, 'Bearer forged'));
    expect(error).toBeInstanceOf(UnauthenticatedError);
    const [record] = await delivered(1);
    expect(record).toMatchObject({
      service: 'crew',
      actor: { kind: 'anonymous' },
      action: 'organization:create',
      transport: 'grpc',
      operation: 'TenancyService/CreateOrganization',
      outcome: 'failure',
      status: 401,
      errorCode: 'AUTH.UNAUTHENTICATED',
      target: { fields: { name: 'initech' } },
      sourceAddress: 'ipv4:10.1.2.3:51234',
    });
    expect(JSON.stringify(record)).not.toContain('never recorded');
  });

  it('records a mutating call refused because its handler declares no access rule', async () => {
    await guarded(rpcContext('renameOrganization', { org: 'acme' }, 'Bearer good'));
    const [record] = await delivered(1);
    expect(record).toMatchObject({ operation: 'TenancyService/RenameOrganization', status: 403, errorCode: 'AUTH.FORBIDDEN', org: 'acme' });
  });

  it('records nothing for allowed calls (the interceptor does), reading calls, and calls left out of the audit', async () => {
    expect(await guarded(rpcContext('createOrganization', { name: 'initech' }, 'Bearer good'))).toBe(true);
    expect(await guarded(rpcContext('getOrganization', { org: 'acme' }))).toBeInstanceOf(UnauthenticatedError);
    expect(await guarded(rpcContext('reportUsage', {}))).toBeInstanceOf(UnauthenticatedError);
    await guarded(rpcContext('createOrganization', { name: 'marker' }));
    const records = await delivered(1);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(records.map((record) => record.target.fields?.name)).toEqual(['marker']);
  });
});
