export * from './organisation';
export * from './access';
export * from './devices';
export * from './enrollment';
export * from './commands';
export * from './audit';
export * from './idempotency';
export * from './apple';
