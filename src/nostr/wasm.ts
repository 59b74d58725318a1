/**
 * Switches event verification to nostr-tools' WASM verifier (~5× the pure-JS speed), for the ingress and tests.
 * The pure-JS verifier stays the default of the protocol library, which must also run where WASM is unavailable.
 */
import { initNostrWasm } from 'nostr-wasm';
import * as wasm from 'nostr-tools/wasm';
import { setEventVerifier, type NostrEvent } from '../protocol/index.js';

let ready: Promise<typeof wasm> | undefined;

export function useWasmCrypto(): Promise<typeof wasm> {
  ready ??= initNostrWasm().then((n) => {
    wasm.setNostrWasm(n);
    // Fresh object: verifyEvent caches its verdict on the object it is given.
    setEventVerifier((e: NostrEvent) => wasm.verifyEvent({ ...e }));
    return wasm;
  });
  return ready;
}
