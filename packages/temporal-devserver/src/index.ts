/**
 * An embedded Temporal-compatible server for development and tests: WorkflowService, OperatorService and TestService
 * over gRPC on 127.0.0.1, persisted in a data directory, with time skipping. `startDevServer()` is the entry point.
 */
export { startDevServer, consoleLogger, type DevServer, type DevServerOptions, type LogLevel } from './server.js';
export type { SaType } from './visibility.js';
export type { Logger } from './logger.js';
/** The gRPC service definitions the server implements (from the installed SDK's protos), for raw clients. */
export { loadServices, type TemporalServices } from './protos.js';
/** The data directory's store, to inspect or repair what a server left on disk (the server must not be running). */
export { Store } from './store.js';
