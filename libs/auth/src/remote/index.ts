export * from './crew-access-settings';
export * from './decision-cache';
export * from './access-service.client';
export * from './crew-access-control';
export * from './crew-access.provider';
