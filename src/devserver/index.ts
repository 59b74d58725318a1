export { startDevServer, consoleLogger, type DevServer, type DevServerOptions, type LogLevel } from './server.js';
export type { SaType } from './visibility.js';
