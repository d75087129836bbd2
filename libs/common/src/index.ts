export * from './errors/domain-error';
export * from './errors/error-body';
export * from './errors/exception.filter';
export * from './config/service-config';
export * from './logging/logger';
export * from './yaml/yaml-depth';
export * from './tasks/retrying-rounds';
export * from './crypto/sealed-json';
