export * from './actions';
export * from './access';
export * from './errors';
export * from './gate';
export * from './decorators';
export * from './credentials';
export * from './auth.guard';
