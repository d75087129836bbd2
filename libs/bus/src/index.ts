export * from './event-bus';
export * from './subjects';
export * from './delivery';
export * from './nats-jetstream.bus';
export * from './in-process.bus';
export * from './service-bus';
export * from './bus-journal';
