import { runServiceMain } from '@co/service-kit';
import { crewService } from './crew.service';

void runServiceMain(crewService);
