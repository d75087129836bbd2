/**
 * `npm run projections:rebuild -- <service> [projection ...]`
 *
 * Empties a service's read models and replays its whole event log into them. Reads the
 * same variables as the service itself (CO_DB_URL, or CO_DATA_DIR for SQLite), so it
 * runs beside a live service: batches are applied under a lock on the checkpoint.
 */
import { createLogger, ConfigError, loadServiceConfig, SERVICE_NAMES, type ServiceName } from '@co/common';
import { Checkpoints, Database, EventStore, ProjectionRunner } from '@co/eventstore';
import { ALL_SERVICES } from '../services';

const USAGE = `usage: npm run projections:rebuild -- <${SERVICE_NAMES.join('|')}> [projection ...]`;

function fail(code: number, line: string): never {
  process.stderr.write(`${line}\n`);
  process.exit(code);
}

async function main() {
  const [serviceName, ...wanted] = process.argv.slice(2);
  const definition = ALL_SERVICES.find((candidate) => candidate.name === serviceName);
  if (!definition) fail(2, serviceName ? `unknown service "${serviceName}"; ${USAGE}` : USAGE);
  let config;
  try {
    config = loadServiceConfig(serviceName as ServiceName);
  } catch (error) {
    if (error instanceof ConfigError) fail(78, `${serviceName}: configuration error: ${error.message}`);
    throw error;
  }
  const projections = definition.projections?.({ subjectPrefix: config.bus.subjectPrefix }) ?? [];
  const names = wanted.length > 0 ? wanted : projections.map((projection) => projection.name);
  const unknown = names.filter((name) => !projections.some((projection) => projection.name === name));
  if (unknown.length > 0) {
    const known = projections.map((projection) => projection.name).join(', ') || 'none';
    fail(2, `${serviceName} has no projection named ${unknown.join(', ')}; its projections: ${known}`);
  }
  if (names.length === 0) {
    process.stdout.write(`${serviceName} has no projections: nothing to rebuild\n`);
    return;
  }
  const db = await Database.open({ url: config.dbUrl, entities: definition.entities, migrations: definition.migrations });
  try {
    const store = new EventStore(db);
    const runner = new ProjectionRunner(db, store, new Checkpoints(db), projections, {
      logger: createLogger({ service: serviceName, level: 'warn' }),
    });
    for (const name of names) {
      const started = Date.now();
      const position = await runner.rebuild(name);
      process.stdout.write(`rebuilt ${serviceName}/${name} up to position ${position} in ${Date.now() - started} ms\n`);
    }
  } finally {
    await db.close();
  }
}

main().catch((error: Error) => fail(1, `projections:rebuild failed: ${error.message}`));
