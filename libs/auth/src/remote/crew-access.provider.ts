import type { FactoryProvider } from '@nestjs/common';
import { ACCESS_CONTROL } from '../access';
import { CrewAccessControl } from './crew-access-control';
import { loadCrewAccessSettings } from './crew-access-settings';

/**
 * ACCESS_CONTROL for a service that is not crew: decisions come from crew over gRPC
 * (CO_CREW_URL, CO_CREW_GRPC_ADDRESS, CO_AUTHZ_CACHE_SECONDS, read when the module starts).
 */
export function crewAccessControlProvider(env: NodeJS.ProcessEnv = process.env): FactoryProvider<CrewAccessControl> {
  return { provide: ACCESS_CONTROL, useFactory: () => new CrewAccessControl(loadCrewAccessSettings(env)) };
}
