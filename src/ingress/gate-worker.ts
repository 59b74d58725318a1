/** A worker thread running the intake gate (steps 1–7) for the events of its shard. */
import { parentPort, workerData } from 'node:worker_threads';
import { useFastCrypto } from '../nostr/fast-crypto.js';
import { EventGate, type GateContext, type GateOptions } from './intake.js';

export interface GateWorkerData {
  transport: GateOptions['transport'];
  mostroKey: Uint8Array;
  pow: number;
  powFirstContact?: number;
  freshnessSecs?: number;
  replayWindowSecs?: number;
  knownPubkeys?: string[];
}

/** A batch of events (one postMessage per event-loop turn, not per event), or a new known-pubkeys list. */
export type GateWorkerRequest = { batch: { id: number; raw: unknown; ctx?: GateContext }[] } | { known: string[] | null };

useFastCrypto();
const data = workerData as GateWorkerData;
const gate = new EventGate({
  transport: data.transport,
  mostroKey: data.mostroKey,
  pow: data.pow,
  powFirstContact: data.powFirstContact,
  freshnessSecs: data.freshnessSecs,
  replayWindowSecs: data.replayWindowSecs,
  knownPubkeys: data.knownPubkeys ? new Set(data.knownPubkeys) : undefined,
});

parentPort!.on('message', (m: GateWorkerRequest) => {
  if ('known' in m) {
    gate.setKnownPubkeys(m.known ? new Set(m.known) : undefined);
    return;
  }
  parentPort!.postMessage({ results: m.batch.map((e) => ({ id: e.id, result: gate.check(e.raw, e.ctx) })) });
});
