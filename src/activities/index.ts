import { createSystemActivities } from './system.js';

export interface ActivityDeps {
  identity: string;
}

/** All activities of the daemon, grouped by the external system they touch. */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createSystemActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
