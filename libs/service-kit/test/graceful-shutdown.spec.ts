import { Controller, Get, Module } from '@nestjs/common';
import { Public } from '@co/auth';
import { startService } from '@co/service-kit';
import { testServiceConfig } from '../../../test/support/services';

let releaseSlow!: () => void;
let slowStarted!: () => void;

@Public()
@Controller('api/v1/slow')
class SlowController {
  @Get()
  async slow() {
    slowStarted();
    await new Promise<void>((resolve) => (releaseSlow = resolve));
    return { finished: true };
  }
}

@Module({ controllers: [SlowController] })
class SlowModule {}

describe('graceful shutdown', () => {
  it('stops taking requests, lets the one in flight finish, then closes', async () => {
    const setup = await testServiceConfig('assembling', 'standalone');
    const service = await startService({ name: 'assembling', title: 't', description: 't', module: SlowModule }, setup.config);
    try {
      const started = new Promise<void>((resolve) => (slowStarted = resolve));
      const inFlight = fetch(`${service.httpUrl}/api/v1/slow`);
      await started;

      let closed = false;
      const closing = service.close().then(() => (closed = true));
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(closed).toBe(false);
      expect(service.runtime.readiness.isAccepting).toBe(false);
      await expect(fetch(`${service.httpUrl}/health`)).rejects.toThrow();

      releaseSlow();
      const response = await inFlight;
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ finished: true });
      await closing;
      expect(closed).toBe(true);
      await expect(service.runtime.db.ping()).rejects.toThrow();
    } finally {
      await service.close();
      await setup.cleanup();
    }
  });
});
