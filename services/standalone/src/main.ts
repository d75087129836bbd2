/**
 * The embedded default: all six services in one process, each on its own ports, with
 * SQLite files under CO_DATA_DIR and the in-process bus (or NATS when CO_NATS_URL is
 * set). The services run the same code as when deployed on their own.
 */
import * as path from 'node:path';
import { InProcessBus, SqliteBusJournal } from '@co/bus';
import { createLogger } from '@co/common';
import { type RunningService, exitWith, EXIT_STARTUP, startService, stopOnSignals } from '@co/service-kit';
import { ALL_SERVICES } from './services';
import { crewAddresses, logarithmAddresses, nucleusAddresses, standaloneConfigs } from './standalone-config';

async function main() {
  const configs = standaloneConfigs(ALL_SERVICES, process.env);
  // The services read these when their modules start, after crew is up.
  Object.assign(process.env, crewAddresses(configs, process.env), nucleusAddresses(configs, process.env), logarithmAddresses(configs, process.env));
  const first = configs[0].config;
  const logger = createLogger({ service: 'standalone', level: first.logLevel });
  const sharedBus = first.natsUrl
    ? undefined
    : new InProcessBus({
        subjectPrefix: first.bus.subjectPrefix,
        maxDeliver: first.bus.maxDeliver,
        backoffMs: first.bus.backoffMs,
        logger: logger.child({ component: 'bus' }),
        journal: new SqliteBusJournal(path.join(first.dataDir, 'bus.sqlite')),
      });
  await sharedBus?.connect();
  const running: RunningService[] = [];
  for (const { definition, config } of configs) {
    try {
      running.push(await startService(definition, config, { bus: sharedBus }));
    } catch (error) {
      await Promise.allSettled(running.map((service) => service.close()));
      await sharedBus?.close();
      exitWith(EXIT_STARTUP, `${definition.name}: cannot start: ${(error as Error).message}`);
    }
  }
  const lines = running.map(
    (service) => `  ${service.name.padEnd(11)} ${service.httpUrl.padEnd(24)} grpc ${service.grpcAddress}`,
  );
  process.stdout.write(
    `ContainerOps is running (standalone: ${running[0].runtime.db.dialect}, ${running[0].runtime.bus.kind} bus, data in ${displayPath(first.dataDir)})\n` +
      `${lines.join('\n')}\nPress Ctrl-C to stop.\n`,
  );
  logger.info({ services: running.map((service) => ({ name: service.name, http: service.httpUrl })) }, 'standalone ready');
  const timeout = Math.max(...configs.map(({ config }) => config.shutdownTimeoutMs));
  stopOnSignals(
    async () => {
      await Promise.allSettled(running.map((service) => service.close()));
      await sharedBus?.close();
    },
    timeout,
    (line) => logger.info(line),
  );
}

function displayPath(dir: string): string {
  const relative = path.relative(process.cwd(), dir);
  return relative === '' ? '.' : relative.startsWith('..') || path.isAbsolute(relative) ? dir : `./${relative}`;
}

void main();
