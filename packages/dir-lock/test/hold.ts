/** A process that locks the directory given as its argument, says so, and holds the lock until it is killed. */
import { lockDirectory } from '../src/index.js';

await lockDirectory(process.argv[2]!);
process.stdout.write('locked\n');
setInterval(() => undefined, 1 << 30);
