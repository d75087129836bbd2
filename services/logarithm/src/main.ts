import { runServiceMain } from '@co/service-kit';
import { logarithmService } from './logarithm.service';

void runServiceMain(logarithmService);
