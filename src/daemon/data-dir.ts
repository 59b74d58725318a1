/**
 * The data directory holds trade data (PGlite), Temporal history, the relay's events, the simulated network's keys
 * and the daemon's own key: it is the daemon user's alone. It is created 0700, and the `mostro` command runs with
 * umask 077 (src/main.ts) so everything the parts create under it — PGlite, the Temporal store, the relay file,
 * lnsim — is 0700 (directories) / 0600 (files) whatever library writes it.
 *
 * An existing directory that others can enter (made before this rule, or by hand) is tightened to 0700, with a
 * warning: refusing to start would only make the operator run chmod, and leaving it would leave the data readable.
 * Only the directory itself: that alone closes everything under it, and a recursive chmod of a directory given by
 * mistake (`--data-dir ~`) would do harm. Files made earlier keep their modes (the warning says how to fix them).
 */
import fs from 'node:fs';
import { ConfigError } from '../config/settings.js';
import type { Logger } from '../log.js';
import { CANNOT_START } from './checks.js';

/** `writable`: `start` writes its embedded parts' state here; `worker` and `ingress` may run on a read-only mount holding the key. */
export function prepareDataDir(dir: string, log: Logger, writable = true): void {
  const fail = (why: string) => new ConfigError([`--data-dir ${dir}: ${why}`], CANNOT_START);
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw fail(code === 'EEXIST' || code === 'ENOTDIR' ? 'not a directory' : `cannot create it (${code ?? (err as Error).message})`);
  }
  const st = fs.statSync(dir);
  if (!st.isDirectory()) throw fail('not a directory');
  if (writable) {
    try {
      fs.accessSync(dir, fs.constants.W_OK | fs.constants.X_OK);
    } catch {
      throw fail('not writable by this user');
    }
  }
  if ((st.mode & 0o077) === 0) return;
  try {
    fs.chmodSync(dir, 0o700);
    log.warn('the data directory was open to other users: changed its mode to 0700 (files created before keep their modes; chmod -R go-rwx it to fix them too)', {
      dir,
      was: (st.mode & 0o777).toString(8),
    });
  } catch (err) {
    log.warn('the data directory is readable by other users and could not be tightened; chmod -R go-rwx it', {
      dir,
      mode: (st.mode & 0o777).toString(8),
      err: String((err as Error).message),
    });
  }
}
