export * from './audit-record';
export * from './audit-publisher';
export * from './audit.guard';
export * from './audit.interceptor';
export * from './not-audited.decorator';
export * from './audit-rpc';
