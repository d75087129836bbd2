import { runServiceMain } from '@co/service-kit';
import { pilotageService } from './pilotage.service';

void runServiceMain(pilotageService);
