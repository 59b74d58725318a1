/** The local relay as a process of its own, journaled to the file given as argument (relay durability tests). */
import { startLocalRelay } from '../../src/nostr/local-relay.js';

const relay = await startLocalRelay({ file: process.argv[2]! });
console.log(`relay: ${relay.url}`);
