/**
 * Cartable agent protocol, version 1 (specification revision 1.3): TypeBox schemas, TypeScript types, constants and helpers.
 * The normative specification is agent-protocol/README.md; JSON Schemas are in agent-protocol/schema/.
 */
export * from './constants';
export * from './common';
export * from './envelope';
export * from './enrollment';
export * from './certificates';
export * from './push';
export * from './auth';
export * from './http';
export * from './reports';
export * from './commands';
export * from './policy';
export * from './registry';
export * from './parse';
