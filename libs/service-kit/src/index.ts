export * from './service-definition';
export * from './runtime';
export * from './bootstrap';
export * from './service-kit.module';
export * from './metrics/service-metrics';
export * from './health/readiness';
export * from './http/tracing.middleware';
