import { runServiceMain } from '@co/service-kit';
import { dockyardService } from './dockyard.service';

void runServiceMain(dockyardService);
