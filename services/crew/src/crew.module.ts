import { Inject, Module, type OnApplicationBootstrap } from '@nestjs/common';
import { SERVICE_RUNTIME, type ServiceRuntime } from '@co/service-kit';
import { AuthController } from './auth/auth.controller';
import { AuthService } from './auth/auth.service';
import { LoginThrottle } from './auth/login-throttle';
import { RefreshTokens } from './auth/refresh-tokens';
import { SigningKeys } from './auth/signing-keys';
import { CREW_SETTINGS, loadCrewSettings, type CrewSettings } from './crew-settings';
import { bootstrapAdmin } from './users/admin-bootstrap';
import { dummyHash } from './users/password-hasher';
import { UsersController } from './users/users.controller';
import { UsersGrpcController } from './users/users.grpc.controller';
import { UsersService } from './users/users.service';
import { CREW_PARTS } from './crew.parts-list';
import { bootstrapTenancy } from './tenancy/tenancy-bootstrap';
import { TenancyService } from './tenancy/tenancy.service';

class CrewStartup implements OnApplicationBootstrap {
  constructor(
    @Inject(SERVICE_RUNTIME) private readonly runtime: ServiceRuntime,
    @Inject(CREW_SETTINGS) private readonly settings: CrewSettings,
    @Inject(UsersService) private readonly users: UsersService,
    @Inject(TenancyService) private readonly tenancy: TenancyService,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    // Made before the first login, so that an unknown user's first attempt costs one scrypt, not two.
    await dummyHash();
    await bootstrapAdmin(this.users, this.runtime.logger.child({ component: 'bootstrap' }), this.settings.adminPassword);
    await bootstrapTenancy(this.tenancy, this.users);
  }
}

/** Crew: tenancy and access: users, organizations, projects, roles, tokens, quotas and audit. */
@Module({
  controllers: [UsersController, UsersGrpcController, AuthController, ...CREW_PARTS.flatMap((part) => part.controllers ?? [])],
  providers: [
    ...CREW_PARTS.flatMap((part) => part.providers ?? []),
    UsersService,
    AuthService,
    CrewStartup,
    { provide: CREW_SETTINGS, useFactory: () => loadCrewSettings(process.env) },
    { provide: LoginThrottle, useFactory: () => new LoginThrottle() },
    {
      provide: SigningKeys,
      inject: [SERVICE_RUNTIME, CREW_SETTINGS],
      useFactory: async (runtime: ServiceRuntime, settings: CrewSettings) => {
        const keys = new SigningKeys(runtime.db, settings.keyRotationDays);
        await keys.initialize();
        return keys;
      },
    },
    { provide: RefreshTokens, inject: [SERVICE_RUNTIME], useFactory: (runtime: ServiceRuntime) => new RefreshTokens(runtime.db) },
  ],
})
export class CrewModule {}
