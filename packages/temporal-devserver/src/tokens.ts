/**
 * Task tokens: what a worker sends back to name the task it answers. A token names its run and task (workflow-task
 * sequence; activity scheduled id and attempt; query id) and is checked against the current state when it returns,
 * so a stale one is refused without the server keeping a table of the tokens it handed out.
 */
import { invalidArgument } from './errors.js';

export type TaskToken =
  | { k: 'w'; r: string; q: number }
  | { k: 'a'; r: string; s: number; a: number }
  | { k: 'q'; id: string };

export function encodeToken(t: TaskToken): Buffer {
  return Buffer.from(JSON.stringify(t));
}

export function decodeToken(buf: Buffer | Uint8Array | undefined): TaskToken {
  if (!buf || buf.length === 0) throw invalidArgument('taskToken is required');
  try {
    const t = JSON.parse(Buffer.from(buf).toString()) as TaskToken;
    if (!t || typeof t !== 'object' || !['w', 'a', 'q'].includes(t.k)) throw new Error('bad token');
    return t;
  } catch {
    throw invalidArgument('malformed task token');
  }
}
