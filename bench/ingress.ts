/**
 * Ingress throughput: messages per second fully verified (outer event, inner trade signature, identity proof),
 * decrypted and validated, on both transports, built like mostro-cli builds them (reputation mode, a fresh trade key
 * per message: no NIP-44 conversation-key cache hits). Compared in the same run with the naive nostr-tools path, and
 * with libsecp256k1 native (the addon of packages/secp256k1-native) beside WebAssembly. Results and the machine are
 * reported in docs/benchmarks.md.
 *
 *   npm run bench:ingress -- [--messages 3000] [--threads 2] [--per-key 1]
 */
import os from 'node:os';
import { parseArgs } from 'node:util';
import { schnorr } from '@noble/curves/secp256k1.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import * as nip44 from 'nostr-tools/nip44';
import { generateSecretKey, getPublicKey, verifyEvent } from 'nostr-tools/pure';
import { Intake, MemoryTradeIndexStore } from '../src/ingress/intake.js';
import { ParallelIntake } from '../src/ingress/parallel-intake.js';
import { useFastCrypto } from '../src/nostr/fast-crypto.js';
import { message, wrapMessage, type NostrEvent, type Transport } from '@mostro/protocol';

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '3000' },
    threads: { type: 'string', default: String(os.availableParallelism()) },
    /** Messages each trade key sends: 1 = worst case (an ECDH per message); a real trade sends several. */
    'per-key': { type: 'string', default: '1' },
  },
});
const N = Number(values.messages);
const THREADS = Number(values.threads);
const PER_KEY = Number(values['per-key']);

useFastCrypto(); // also speeds up generating the test messages
const mostroSk = generateSecretKey();
const mostroPk = getPublicKey(mostroSk);
const identity = generateSecretKey();

/** Events each run processes before the clock starts: every thread's JIT warm, as in a daemon that has been up. */
const WARM = 400;

function build(transport: Transport): NostrEvent[] {
  const out: NostrEvent[] = [];
  let tradeKey = generateSecretKey();
  for (let i = 0; i < N + WARM; i++) {
    if (i % PER_KEY === 0) tradeKey = generateSecretKey();
    const msg = message({
      action: 'take-sell',
      request_id: 15285610729373585371n,
      id: '7dd204d2-d06c-4406-a3d9-4415f4a8b9c9',
      payload: { payment_request: [null, 'lnbcrt10u1pjexample', null] },
    });
    out.push(wrapMessage({ transport, message: msg, tradeKey, identityKey: identity, receiver: mostroPk }));
  }
  return out;
}

/** What a straightforward implementation on nostr-tools does (pure-JS crypto, no caching). */
function naive(ev: NostrEvent, transport: Transport): boolean {
  const decrypt = (payload: string, pk: string) => nip44.v2.decrypt(payload, nip44.v2.utils.getConversationKey(mostroSk, pk));
  const verifyInner = (text: string, sig: string, pk: string) => schnorr.verify(hexToBytes(sig), sha256(utf8ToBytes(text)), hexToBytes(pk));
  if (!verifyEvent({ ...ev })) return false;
  if (transport === 'nip44') {
    const [msg, sig, proof] = JSON.parse(decrypt(ev.content, ev.pubkey)) as [unknown, string, [string, string]];
    const json = JSON.stringify(msg);
    if (!verifyInner(json, sig, ev.pubkey)) return false;
    return verifyInner(`mostro-transport-v2-identity:${ev.pubkey}:${json}`, proof[1], proof[0]);
  }
  const seal = JSON.parse(decrypt(ev.content, ev.pubkey)) as NostrEvent;
  if (!verifyEvent(seal)) return false;
  const rumor = JSON.parse(decrypt(seal.content, seal.pubkey)) as { pubkey: string; content: string };
  const [msg, sig] = JSON.parse(rumor.content) as [unknown, string];
  return verifyInner(JSON.stringify(msg), sig, rumor.pubkey);
}

const fresh = { freshnessSecs: 86_400 }; // the messages were built before the clock started
const rate = (n: number, ms: number) => `${Math.round((n / ms) * 1000)} msg/s (${((ms / n) * 1000).toFixed(0)} µs each)`;

async function main(): Promise<void> {
  console.log(
    `machine: ${os.cpus().length} × ${os.cpus()[0]?.model}, node ${process.version}; ${N} messages per run, ${PER_KEY} per trade key`,
  );
  for (const transport of (process.env.BENCH_TRANSPORTS?.split(',') ?? ['nip44', 'gift-wrap']) as Transport[]) {
    const t0 = performance.now();
    const all = build(transport);
    const warm = all.slice(0, WARM);
    const events = all.slice(WARM);
    console.log(`\n${transport}: built ${N} mostro-cli-style messages (+${WARM} to warm up) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

    // The naive path is slow: measure it on a slice.
    const slice = events.slice(0, Math.min(N, 500));
    let t = performance.now();
    let ok = 0;
    for (const e of slice) ok += naive(e, transport) ? 1 : 0;
    console.log(`  naive nostr-tools, 1 thread:        ${rate(slice.length, performance.now() - t)} [${ok} ok]`);

    for (const path of ['native', 'wasm'] as const) {
      // The intake's worker threads copy the environment when they start: they pick the same backend.
      if (path === 'wasm') process.env.MOSTRO_CRYPTO = 'wasm';
      else delete process.env.MOSTRO_CRYPTO;
      const used = useFastCrypto();
      if (path === 'native' && used.fallbackReason) {
        console.log(`  (native libsecp256k1 not available: ${used.fallbackReason})`);
        continue;
      }
      const label = path === 'native' ? 'native libsecp256k1' : 'WebAssembly libsecp256k1';
      const single = new Intake({ transport, mostroKey: mostroSk, pow: 0, tradeIndex: new MemoryTradeIndexStore(), ...fresh });
      for (const e of warm) await single.process(e);
      const warmAccepted = single.stats().accepted;
      t = performance.now();
      for (const e of events) await single.process(e);
      console.log(`  this intake, ${label}, 1 thread: ${rate(N, performance.now() - t)} [${single.stats().accepted - warmAccepted} accepted]`);

      const parallel = new ParallelIntake({ transport, mostroKey: mostroSk, pow: 0, tradeIndex: new MemoryTradeIndexStore(), threads: THREADS, ...fresh });
      const warmGated = warm.map((e) => parallel.gate(e)); // the workers' loader, backend and JIT
      for (const g of warmGated) await parallel.admit(await g);
      const warmParallel = parallel.stats().accepted;
      t = performance.now();
      const gated = events.map((e) => parallel.gate(e));
      for (const g of gated) await parallel.admit(await g);
      console.log(`  this intake, ${label}, ${THREADS} worker threads: ${rate(N, performance.now() - t)} [${parallel.stats().accepted - warmParallel} accepted]`);
      await parallel.close();
    }
  }
}

await main();
