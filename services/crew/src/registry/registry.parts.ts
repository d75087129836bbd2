import type { CrewParts } from '../crew-parts';
import { RegistryController } from './registry.controller';
import { RegistryCredentials } from './registry-credentials';
import { RegistryTokens } from './registry-tokens.service';
import { WorkspaceDirectory } from './workspace-directory';

/** The registry token service and its copy of dockyard's workspaces (table in the tokens migration). */
export const registryParts: CrewParts = {
  controllers: [RegistryController],
  providers: [RegistryCredentials, RegistryTokens, WorkspaceDirectory],
};
