import { crewAccessControlProvider } from '@co/auth';
import type { DockyardParts } from '../dockyard-parts';
import { RegistryAccess } from './registry-access';

export const accessParts: DockyardParts = {
  providers: [crewAccessControlProvider(), RegistryAccess],
};
