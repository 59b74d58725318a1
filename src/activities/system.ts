/** Activities about the daemon itself (no external system). */
import os from 'node:os';

export function createSystemActivities(deps: { identity: string }) {
  return {
    async describeWorker(): Promise<string> {
      return `${deps.identity} (node ${process.version}, ${os.platform()}/${os.arch()})`;
    },
  };
}
