/**
 * The intake with its CPU-bound gate (signatures, ECDH, decryption) spread over worker threads. Events are sharded
 * by id, so every copy of an event meets the same replay guard; admission (trade index, shape) stays on the calling
 * thread. Same interface and outcomes as {@link Intake}.
 */
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { Intake, type GateContext, type GateResult, type IntakeOptions, type KnownPubkeys } from './intake.js';
import type { GateWorkerData, GateWorkerRequest } from './gate-worker.js';

export class ParallelIntake extends Intake {
  private workers: Worker[] = [];
  private pending = new Map<number, (r: GateResult) => void>();
  private nextId = 0;
  private outbox: { id: number; raw: unknown; ctx?: GateContext }[][] = [];
  private flushScheduled = false;

  constructor(opts: IntakeOptions & { threads?: number }) {
    super(opts);
    const threads = Math.max(1, opts.threads ?? os.availableParallelism());
    const data: GateWorkerData = {
      transport: opts.transport,
      mostroKey: opts.mostroKey,
      pow: opts.pow,
      powFirstContact: opts.powFirstContact,
      freshnessSecs: opts.freshnessSecs,
      replayWindowSecs: opts.replayWindowSecs,
      knownPubkeys: opts.knownPubkeys ? [...opts.knownPubkeys] : undefined,
    };
    const isTs = import.meta.url.endsWith('.ts');
    for (let i = 0; i < threads; i++) {
      // Under tsx (npm start, tests) the worker boots through a loader shim; compiled code loads the JS directly.
      const entry = new URL(isTs ? './gate-worker-boot.mjs' : './gate-worker.js', import.meta.url);
      const w = new Worker(entry, { workerData: data });
      w.on('message', (m: { results: { id: number; result: GateResult }[] }) => {
        for (const { id, result } of m.results) {
          const done = this.pending.get(id);
          this.pending.delete(id);
          done?.(result);
        }
        if (this.pending.size === 0) for (const x of this.workers) x.unref();
      });
      w.on('error', (err) => {
        // A crashed gate fails its in-flight events as internal errors rather than hanging them.
        for (const [id, done] of this.pending) {
          if (id % this.workers.length === i) done({ type: 'drop', reason: 'internal-error', detail: String(err) });
        }
      });
      w.unref();
      this.workers.push(w);
      this.outbox.push([]);
    }
  }

  private shard(raw: unknown): number {
    const id = (raw as { id?: unknown } | null)?.id;
    if (typeof id !== 'string' || id.length < 2) return 0;
    return parseInt(id.slice(0, 2), 16) % this.workers.length || 0;
  }

  override gate(raw: unknown, ctx?: GateContext): Promise<GateResult> {
    const id = this.nextId++;
    const w = this.shard(raw);
    return new Promise((resolve) => {
      // Workers keep the process alive only while they owe an answer.
      if (this.pending.size === 0) for (const x of this.workers) x.ref();
      this.pending.set(id, resolve);
      this.outbox[w]!.push({ id, raw, ctx });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /** Posts each worker's queued events as one message. */
  private flush(): void {
    this.flushScheduled = false;
    this.outbox.forEach((batch, w) => {
      if (batch.length === 0) return;
      this.outbox[w] = [];
      try {
        this.workers[w]!.postMessage({ batch } satisfies GateWorkerRequest);
      } catch {
        // Something in the batch is not cloneable (functions, symbols…): send one by one, dropping what fails.
        for (const item of batch) {
          try {
            this.workers[w]!.postMessage({ batch: [item] } satisfies GateWorkerRequest);
          } catch (err) {
            const done = this.pending.get(item.id);
            this.pending.delete(item.id);
            done?.({ type: 'drop', reason: 'malformed-event', detail: String(err) });
          }
        }
      }
    });
    if (this.pending.size === 0) for (const x of this.workers) x.unref();
  }

  override setKnownPubkeys(known: KnownPubkeys | undefined): void {
    super.setKnownPubkeys(known);
    const list = known ? [...known] : null;
    for (const w of this.workers) w.postMessage({ known: list } satisfies GateWorkerRequest);
  }

  override async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
    this.workers = [];
  }
}
