import type { ServiceDefinition } from '@co/service-kit';
import { assemblingService } from '../../assembling/src/assembling.service';
import { crewService } from '../../crew/src/crew.service';
import { dockyardService } from '../../dockyard/src/dockyard.service';
import { logarithmService } from '../../logarithm/src/logarithm.service';
import { nucleusService } from '../../nucleus/src/nucleus.service';
import { pilotageService } from '../../pilotage/src/pilotage.service';

/** All six services, in start order (crew first: the others will ask it for decisions). */
export const ALL_SERVICES: ServiceDefinition[] = [
  crewService,
  nucleusService,
  dockyardService,
  logarithmService,
  assemblingService,
  pilotageService,
];
