import type { ModuleRef } from '@nestjs/core';
import { ANONYMOUS, NOWHERE, type AccessControl, type QuotaLimits } from '@co/auth';
import { DomainError } from '@co/common';
import { Database, sqlTime } from '@co/eventstore';
import { dropDatabase, mysqlDatabaseUrl, uniqueName } from '../../../../test/support/infra';
import { CreatePilotage1763800000000 } from '../migrations/1763800000000-create-pilotage';
import { QuotaGate } from './quota-gate';

/** Crew's answers, set per test; everything else a fake AccessControl is never asked. */
class FakeQuotas implements AccessControl {
  limits: Record<string, QuotaLimits> = {};
  asked: string[] = [];
  authenticate = async () => ANONYMOUS;
  authorize = async () => ({ allowed: false, visible: false, reason: 'not asked' });
  listScope = async () => NOWHERE;
  async quota(org: string, project?: string) {
    this.asked.push(project ? `${org}/${project}` : org);
    return { org: this.limits[org] ?? {}, project: (project && this.limits[`${org}/${project}`]) || {} };
  }
}

describe('QuotaGate (pilotage tables on MariaDB)', () => {
  const name = uniqueName('co_test_quota_gate_');
  let db: Database;
  let access: FakeQuotas;
  let gate: QuotaGate;
  let sequence = 0;

  beforeAll(async () => {
    db = await Database.open({ url: mysqlDatabaseUrl(name), migrations: [CreatePilotage1763800000000] });
  });
  afterAll(async () => {
    await db?.close();
    await dropDatabase(name);
  });
  beforeEach(async () => {
    await db.query('DELETE FROM pilotage_workflows');
    await db.query('DELETE FROM pilotage_runs');
    access = new FakeQuotas();
    const modules = { get: () => access } as unknown as ModuleRef;
    gate = new QuotaGate(modules, db);
  });

  async function workflow(project: string) {
    const now = sqlTime(db, new Date());
    await db.query(
      `INSERT INTO pilotage_workflows (id, project, name, revision, active, definition, created_by, created_at, updated_at) VALUES (?, ?, ?, 1, 1, '{}', NULL, ?, ?)`,
      [`wf${++sequence}`, project, `w${sequence}`, now, now],
    );
  }

  async function run(project: string, status: string) {
    const id = `run${++sequence}`;
    await db.query(
      `INSERT INTO pilotage_runs (id, stream_id, workflow_id, project, number, status, state, snapshot, requested_at, finished_at) VALUES (?, ?, 'wf', ?, ?, ?, '{}', '{}', ?, NULL)`,
      [id, `run-wf.${sequence}`, project, sequence, status, sqlTime(db, new Date())],
    );
  }

  async function refusal(check: Promise<void>): Promise<DomainError> {
    const error = await check.then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(DomainError);
    return error as DomainError;
  }

  it('allows anything without limits', async () => {
    for (let i = 0; i < 3; i++) await workflow('acme/web');
    await run('acme/web', 'running');
    await expect(gate.checkWorkflowCreate('acme/web')).resolves.toBeUndefined();
    await expect(gate.checkRunStart('acme/web')).resolves.toBeUndefined();
    expect(access.asked).toEqual(['acme/web', 'acme/web']);
  });

  it("counts an organization's workflows across its projects, not another organization's", async () => {
    access.limits.acme = { maxWorkflows: 3 };
    await workflow('acme/web');
    await workflow('acme/api');
    await workflow('acmeother/web');
    await workflow('other/web');
    await expect(gate.checkWorkflowCreate('acme/web')).resolves.toBeUndefined();
    await workflow('acme/api');
    const error = await refusal(gate.checkWorkflowCreate('acme/web'));
    expect(error.code).toBe('QUOTA.EXCEEDED');
    expect(error.httpStatus).toBe(403);
    expect(error.grpcStatus).toBe(8); // RESOURCE_EXHAUSTED
    expect(error.message).toBe('organization acme allows at most 3 workflows (maxWorkflows); delete one, or ask a platform administrator to raise it.');
    expect(error.details).toEqual({ quota: 'maxWorkflows', scope: 'organization', org: 'acme', project: 'web', limit: 3, usage: 3 });
    // Another organization is not limited by acme's quota.
    await expect(gate.checkWorkflowCreate('other/web')).resolves.toBeUndefined();
  });

  it("applies a project's own limit before its organization's", async () => {
    access.limits.acme = { maxWorkflows: 10 };
    access.limits['acme/web'] = { maxWorkflows: 1 };
    await workflow('acme/web');
    const error = await refusal(gate.checkWorkflowCreate('acme/web'));
    expect(error.message).toMatch(/^project acme\/web allows at most 1 workflow \(maxWorkflows\)/);
    expect(error.details).toMatchObject({ scope: 'project', limit: 1, usage: 1 });
    await expect(gate.checkWorkflowCreate('acme/api')).resolves.toBeUndefined();
  });

  it('counts queued and running runs only against maxConcurrentRuns; 0 forbids every run', async () => {
    access.limits.acme = { maxConcurrentRuns: 2 };
    await run('acme/web', 'running');
    await run('acme/api', 'succeeded');
    await run('acme/api', 'failed');
    await run('acme/api', 'stopped');
    await run('acme/api', 'timed_out');
    await expect(gate.checkRunStart('acme/web')).resolves.toBeUndefined();
    await run('acme/api', 'queued');
    const error = await refusal(gate.checkRunStart('acme/web'));
    expect(error.message).toBe(
      'organization acme allows at most 2 concurrent runs (maxConcurrentRuns); wait for a run to finish or stop one, or ask a platform administrator to raise it.',
    );
    access.limits.acme = {};
    access.limits['acme/new'] = { maxConcurrentRuns: 0 };
    expect((await refusal(gate.checkRunStart('acme/new'))).details).toMatchObject({ scope: 'project', limit: 0, usage: 0 });
  });
});
