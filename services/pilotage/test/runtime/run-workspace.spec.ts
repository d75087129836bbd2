import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { DockerRuntime } from '../../src/runtime/docker.runtime';
import { RunWorkspaces, WORKSPACE_PATH, workspaceVolume } from '../../src/engine/run-workspace';
import { BUSYBOX_IMAGE, ensureBusyboxImage, podmanSocket } from '../support/podman';

const suffix = () => randomBytes(4).toString('hex');

describe('run workspaces on Podman', () => {
  const runtime = new DockerRuntime({ socketPath: podmanSocket() });
  const engineId = `pilotage-test-${suffix()}`;
  const logger = pino({ level: 'silent' });
  const workspaces = new RunWorkspaces(runtime, engineId, logger);
  const runs = { active: `active-${suffix()}`, ended: `ended-${suffix()}`, kept: `kept-${suffix()}`, other: `other-${suffix()}` };
  const containers: string[] = [];

  beforeAll(() => ensureBusyboxImage());

  afterAll(async () => {
    for (const id of containers) await runtime.remove(id);
    for (const run of Object.values(runs)) await runtime.removeVolume(workspaceVolume(run)).catch(() => undefined);
  });

  const present = async () => (await runtime.listVolumes({ 'co.managed': engineId })).map((volume) => volume.labels['co.run']).sort();

  it('creates a labelled volume once per run, mountable at /workspace, and again after it was removed', async () => {
    const mount = await workspaces.prepare(runs.active);
    expect(mount).toEqual({ volume: workspaceVolume(runs.active), target: WORKSPACE_PATH });
    expect(await workspaces.prepare(runs.active)).toEqual(mount);
    const id = await runtime.create({ name: `co-ws-${suffix()}`, image: BUSYBOX_IMAGE, command: ['sh', '-c', 'echo kept > /workspace/file'], env: {}, labels: {}, volumes: [mount] });
    containers.push(id);
    await runtime.start(id);
    expect(await runtime.wait(id)).toBe(0);
    expect(await present()).toEqual([runs.active]);
    await runtime.remove(id);
    await workspaces.release(runs.active);
    expect(await present()).toEqual([]);
    await workspaces.prepare(runs.active);
    expect(await present()).toEqual([runs.active]);
  });

  it("sweeps the volumes of runs that ended, leaving active runs', those still mounted and other engines' alone", async () => {
    await workspaces.prepare(runs.ended);
    const kept = await workspaces.prepare(runs.kept);
    const id = await runtime.create({ name: `co-ws-${suffix()}`, image: BUSYBOX_IMAGE, command: ['true'], env: {}, labels: {}, volumes: [kept] });
    containers.push(id);
    const otherEngine = new RunWorkspaces(runtime, `${engineId}-other`, logger);
    await otherEngine.prepare(runs.other);

    await workspaces.sweep((run) => run === runs.active);
    expect(await present()).toEqual([runs.active, runs.kept].sort());
    expect(await runtime.listVolumes({ 'co.managed': `${engineId}-other` })).toHaveLength(1);

    await runtime.remove(id);
    await workspaces.sweep((run) => run === runs.active);
    expect(await present()).toEqual([runs.active]);
  });
});
