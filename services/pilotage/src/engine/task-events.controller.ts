import { createHash } from 'node:crypto';
import { Body, Controller, Headers, HttpCode, Param, Post } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { AuditRefusalsOnly, Public } from '@co/auth';
import { ConflictError, DomainError, InvalidInputError, NotFoundError } from '@co/common';
import { DuplicateEventError, EventStore, ProjectionRunner } from '@co/eventstore';
import type { RunEvent } from '../runs/run.events';
import { currentAttempt, findTask } from '../runs/run-state';
import { maskDeep, maskList, maskSecretValues, RunSecretStore } from '../runs/run-secrets';
import { RunsService } from '../runs/runs.service';
import { tenantOf } from '../workflows/workflows.service';
import { outputLimitViolation } from './output-parser';
import { PROTOCOL_EVENTS } from './task-execution';
import { TaskTokens } from './task-token';
import { runnableAction } from './component-action';

const OUTPUT_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;

class TokenRejectedError extends DomainError {
  constructor(message: string) {
    super('TASK.TOKEN_INVALID', message, 401, GrpcStatus.UNAUTHENTICATED);
  }
}

/**
 * The component protocol's HTTP channel (generation 1): a running component POSTs
 * `{EVENT, EVENT_ID, RUN_ID, INFO: {status, result, output}}` with its own task's
 * token as a Bearer token. A token of another task or attempt is refused. Public to
 * the platform's guard: the task token (an HMAC of run, task and attempt) is checked here.
 */
@ApiTags('component protocol')
@Public()
@AuditRefusalsOnly('accepted component events are recorded as run events')
@Controller('api/v1/runs/:runId/tasks/:task/attempts/:attempt/events')
export class TaskEventsController {
  constructor(
    private readonly runs: RunsService,
    private readonly store: EventStore,
    private readonly tokens: TaskTokens,
    private readonly projections: ProjectionRunner,
    private readonly secrets: RunSecretStore,
  ) {}

  @Post()
  @HttpCode(202)
  @ApiOperation({ summary: 'A component reports an event (Authorization: Bearer $CO_EVENT_TOKEN)' })
  receive(
    @Param('runId') runId: string,
    @Param('task') task: string,
    @Param('attempt') attempt: string,
    @Headers('authorization') authorization: string | undefined,
    @Body() body: unknown,
  ) {
    return this.handle(runId, task, attempt, authorization, body, undefined);
  }

  @Post(':event')
  @HttpCode(202)
  @ApiOperation({ summary: 'Per-event URL (CO_TASK_START, …): same body, EVENT may be omitted' })
  receiveNamed(
    @Param('runId') runId: string,
    @Param('task') task: string,
    @Param('attempt') attempt: string,
    @Param('event') event: string,
    @Headers('authorization') authorization: string | undefined,
    @Body() body: unknown,
  ) {
    return this.handle(runId, task, attempt, authorization, body, event);
  }

  private async handle(runId: string, task: string, attemptText: string, authorization: string | undefined, body: unknown, named?: string) {
    const attempt = Number(attemptText);
    const token = /^Bearer\s+(\S+)$/i.exec(authorization ?? '')?.[1];
    if (!token) throw new TokenRejectedError('Send the task token as Authorization: Bearer $CO_EVENT_TOKEN.');
    if (!Number.isInteger(attempt) || attempt < 1 || !this.tokens.verify(runId, task, attempt, token)) {
      throw new TokenRejectedError('This token does not belong to this task attempt; use the CO_EVENT_TOKEN given to this container.');
    }
    const message = parseBody(body, named, runId);
    const run = await this.runs.loadRecorded(runId).catch(() => {
      throw new NotFoundError('RUN.NOT_FOUND', `No run with id ${runId}.`);
    });
    const [stage, action] = task.split('.');
    const state = findTask(run, stage, action ?? '');
    const current = state ? currentAttempt(state) : undefined;
    // A component may talk before the engine has recorded that its container started.
    if (!state || current?.attempt !== attempt || (current.status !== 'running' && current.status !== 'queued')) {
      throw new ConflictError('TASK.NOT_RUNNING', `Task ${task} attempt ${attempt} of run ${runId} is not running; events are accepted only while it runs.`);
    }
    const spec = run.snapshot.spec.stages.find((s) => s.name === stage)?.actions.find((a) => a.name === action);
    const declared = new Set((spec ? runnableAction(spec) : undefined)?.outputs ?? []);
    // What a component reports is recorded in events: the run's secret values never are.
    const mask = run.snapshot.spec.secrets?.length ? maskList(await this.secrets.load(run.id)) : [];
    let event: RunEvent;
    if (message.EVENT === 'CO_TASK_RESULT') {
      const outputs: Record<string, string> = {};
      for (const [key, value] of Object.entries(message.INFO.output ?? {})) {
        if (OUTPUT_KEY.test(key) && declared.has(key)) outputs[key] = typeof value === 'string' ? maskSecretValues(value, mask) : JSON.stringify(maskDeep(value, mask));
      }
      const violation = outputLimitViolation(state.outputs, outputs);
      if (violation) throw new DomainError('TASK.OUTPUT_TOO_LARGE', `${violation}; nothing was recorded.`, 413, GrpcStatus.RESOURCE_EXHAUSTED);
      event = {
        type: 'TaskResultRecorded',
        data: { stage, action, attempt, outputs, ...(message.INFO.result === false ? { result: false } : {}), source: 'http' },
      };
    } else {
      event = {
        type: 'TaskStatusReported',
        data: {
          stage,
          action,
          attempt,
          event: message.EVENT,
          eventId: message.EVENT_ID,
          ...(typeof message.INFO.status === 'string' ? { status: maskDeep(message.INFO.status, mask) as string } : {}),
          info: maskDeep(message.INFO, mask) as typeof message.INFO,
        },
      };
    }
    try {
      const recorded = await this.store.append<RunEvent['data']>(
        run.streamId,
        'any',
        [{ ...event, id: message.EVENT_ID ? stableId(`${runId}/${task}/${attempt}/${message.EVENT_ID}`) : undefined }],
        { actor: `task:${runId}/${task}/${attempt}`, tenant: tenantOf(run.project), correlationId: runId },
      );
      await this.projections.waitFor(recorded[0].position).catch(() => undefined);
    } catch (error) {
      // The same EVENT_ID again: already recorded.
      if (!(error instanceof DuplicateEventError)) throw error;
    }
    return { accepted: true };
  }
}

interface ProtocolMessage {
  EVENT: (typeof PROTOCOL_EVENTS)[number];
  EVENT_ID?: string;
  INFO: { status?: unknown; result?: unknown; output?: Record<string, unknown> };
}

function parseBody(body: unknown, named: string | undefined, runId: string): ProtocolMessage {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new InvalidInputError('TASK.EVENT_INVALID', 'Send a JSON object {EVENT, EVENT_ID, RUN_ID, INFO} with Content-Type: application/json.');
  }
  const value = body as Record<string, unknown>;
  const name = value.EVENT ?? named;
  if (!PROTOCOL_EVENTS.includes(name as never)) {
    throw new InvalidInputError('TASK.EVENT_INVALID', `EVENT must be one of ${PROTOCOL_EVENTS.join(', ')}.`);
  }
  if (named && value.EVENT !== undefined && value.EVENT !== named) {
    throw new InvalidInputError('TASK.EVENT_INVALID', `EVENT ${String(value.EVENT)} does not match the URL's ${named}.`);
  }
  if (value.RUN_ID !== undefined && value.RUN_ID !== runId) {
    throw new InvalidInputError('TASK.EVENT_INVALID', `RUN_ID ${String(value.RUN_ID)} is not this run (${runId}).`);
  }
  if (value.EVENT_ID !== undefined && (typeof value.EVENT_ID !== 'string' && typeof value.EVENT_ID !== 'number')) {
    throw new InvalidInputError('TASK.EVENT_INVALID', 'EVENT_ID must be a string or a number.');
  }
  const info = value.INFO ?? {};
  if (typeof info !== 'object' || info === null || Array.isArray(info)) {
    throw new InvalidInputError('TASK.EVENT_INVALID', 'INFO must be an object {status, result, output}.');
  }
  const output = (info as Record<string, unknown>).output;
  if (output !== undefined && (typeof output !== 'object' || output === null || Array.isArray(output))) {
    throw new InvalidInputError('TASK.EVENT_INVALID', 'INFO.output must be an object of output name: value.');
  }
  return {
    EVENT: name as ProtocolMessage['EVENT'],
    EVENT_ID: value.EVENT_ID === undefined ? undefined : String(value.EVENT_ID),
    INFO: info as ProtocolMessage['INFO'],
  };
}

function stableId(text: string): string {
  const hex = createHash('sha256').update(text).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}
