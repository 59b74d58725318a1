// Worker threads do not inherit tsx's loader from the parent on Node 20: register it here, then load the
// TypeScript worker module.
import { register } from 'tsx/esm/api';

register();
await import('./gate-worker.ts');
