import { runServiceMain } from '@co/service-kit';
import { assemblingService } from './assembling.service';

void runServiceMain(assemblingService);
