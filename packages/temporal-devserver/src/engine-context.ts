/** What the parts of the engine share, so that each depends on these and its declared collaborators only. */
import type { Logger } from './logger.js';
import type { VirtualClock } from './clock.js';
import type { Run } from './run.js';

export interface EngineContext {
  /** Virtual time: every deadline, retry and timer of the engine is a keyed entry here. */
  readonly clock: VirtualClock;
  readonly log: Logger;
  /** Records that a run changed: for persistence, and for the idle tracking that time skipping waits on. */
  touch(run: Run): void;
  /** Persists every change so far. Timer callbacks call it themselves: no RPC answer follows them. */
  commit(): Promise<void>;
}

/** The caller's side of a long-poll RPC: whether it went away. */
export interface PollSignal {
  cancelled(): boolean;
  onCancel(fn: () => void): void;
}
