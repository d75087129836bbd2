import { Body, Controller, Get, Module, Post } from '@nestjs/common';
import { Public } from '@co/auth';
import { IsInt, IsString, Max, MaxLength, Min } from 'class-validator';
import request from 'supertest';
import { NotFoundError } from '@co/common';
import { type RunningService, startService } from '@co/service-kit';
import { testServiceConfig, type TestConfig } from '../../../test/support/services';

class CreateThingDto {
  @IsString()
  @MaxLength(20)
  name!: string;

  @IsInt()
  @Min(1)
  @Max(10)
  size!: number;
}

@Public()
@Controller('api/v1/things')
class ThingsController {
  @Post()
  create(@Body() body: CreateThingDto) {
    return { created: body };
  }

  @Get('missing')
  missing() {
    throw new NotFoundError('THING.NOT_FOUND', 'Thing "missing" does not exist; list things to see their names.', {
      name: 'missing',
    });
  }

  @Get('broken')
  broken() {
    throw new Error('database password is hunter2');
  }
}

/** No access rule at all: the guard must refuse it. */
@Controller('api/v1/undeclared')
class UndeclaredController {
  @Get()
  secret() {
    return { secret: 'should never be served' };
  }
}

@Module({ controllers: [ThingsController, UndeclaredController] })
class ThingsModule {}

describe('common HTTP behaviour of a service', () => {
  let setup: TestConfig;
  let service: RunningService;

  beforeAll(async () => {
    setup = await testServiceConfig('nucleus', 'standalone', { CO_BODY_LIMIT_BYTES: '2048' });
    service = await startService(
      { name: 'nucleus', title: 'test', description: 'test service', module: ThingsModule },
      setup.config,
    );
  });

  afterAll(async () => {
    await service.close();
    await setup.cleanup();
  });

  const http = () => request(service.httpUrl);

  it('refuses a handler that declares no access rule (deny by default)', async () => {
    const response = await http().get('/api/v1/undeclared').expect(403);
    expect(response.body.error.code).toBe('AUTH.FORBIDDEN');
    expect(JSON.stringify(response.body)).not.toContain('should never be served');
  });

  it('accepts a valid body', async () => {
    const response = await http().post('/api/v1/things').send({ name: 'a', size: 3 }).expect(201);
    expect(response.body).toEqual({ created: { name: 'a', size: 3 } });
  });

  it('answers invalid input with 400, a stable code and one sentence per problem', async () => {
    const response = await http().post('/api/v1/things').send({ name: 42, size: 11 }).expect(400);
    expect(response.body.error.code).toBe('REQUEST.INVALID');
    expect(response.body.error.message).toMatch(/^The request is invalid: .*name must be a string.*size must not be greater than 10/);
    expect(response.body.error.details.violations).toEqual(
      expect.arrayContaining(['name must be a string', 'size must not be greater than 10']),
    );
  });

  it('refuses properties that are not part of the API', async () => {
    const response = await http().post('/api/v1/things').send({ name: 'a', size: 1, admin: true }).expect(400);
    expect(response.body.error.message).toContain('property admin should not exist');
  });

  it('answers malformed JSON with 400 REQUEST.MALFORMED', async () => {
    const response = await http().post('/api/v1/things').set('Content-Type', 'application/json').send('{"name": ').expect(400);
    expect(response.body.error).toEqual({ code: 'REQUEST.MALFORMED', message: 'The request body is not valid JSON; check its syntax.' });
  });

  it('answers a body over the limit with 413 and the limit', async () => {
    const response = await http().post('/api/v1/things').send({ name: 'x'.repeat(4000), size: 1 }).expect(413);
    expect(response.body.error.code).toBe('REQUEST.TOO_LARGE');
    expect(response.body.error.details).toEqual({ limitBytes: 2048 });
  });

  it('maps a domain error to its status, code and sentence', async () => {
    const response = await http().get('/api/v1/things/missing').expect(404);
    expect(response.body.error).toEqual({
      code: 'THING.NOT_FOUND',
      message: 'Thing "missing" does not exist; list things to see their names.',
      details: { name: 'missing' },
    });
  });

  it('answers an unknown route with 404 ROUTE.NOT_FOUND', async () => {
    const response = await http().get('/api/v1/nothing-here').expect(404);
    expect(response.body.error.code).toBe('ROUTE.NOT_FOUND');
  });

  it('hides internals of an unexpected error behind an error id', async () => {
    const response = await http().get('/api/v1/things/broken').expect(500);
    expect(response.body.error.code).toBe('INTERNAL');
    expect(response.body.error.details.errorId).toMatch(/^[0-9a-f-]{36}$/);
    expect(JSON.stringify(response.body)).not.toContain('hunter2');
  });

  it('answers /health, /ready and /metrics', async () => {
    expect((await http().get('/health').expect(200)).body).toEqual({ status: 'ok', service: 'nucleus' });
    const ready = await http().get('/ready').expect(200);
    expect(ready.body.checks).toEqual({ accepting: { ok: true }, database: { ok: true }, bus: { ok: true } });
    const metrics = await http().get('/metrics').expect(200);
    expect(metrics.headers['content-type']).toContain('text/plain');
    expect(metrics.text).toContain('process_cpu_user_seconds_total{service="nucleus"}');
    expect(metrics.text).toMatch(/http_request_duration_seconds_count\{[^}]*route="\/api\/v1\/things"[^}]*status_code="201"/);
    expect(metrics.text).toContain('co_outbox_published_events_total');
  });

  it('serves its OpenAPI document', async () => {
    const document = await http().get('/api/docs/openapi.json').expect(200);
    expect(document.body.paths['/api/v1/things']).toBeDefined();
    expect(document.body.paths['/ready']).toBeDefined();
  });

  it('continues the caller trace and returns its id', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const response = await http()
      .get('/health')
      .set('traceparent', `00-${traceId}-00f067aa0ba902b7-01`)
      .expect(200);
    expect(response.headers['x-trace-id']).toBe(traceId);
  });
});
