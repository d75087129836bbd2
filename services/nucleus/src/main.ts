import { runServiceMain } from '@co/service-kit';
import { nucleusService } from './nucleus.service';

void runServiceMain(nucleusService);
