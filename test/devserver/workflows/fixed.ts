/** The fixed versions of workflows in index.ts, deployed by tests as a "fix-forward". */
export * from './index.js';

export async function buggy(): Promise<string> {
  return 'fixed';
}
