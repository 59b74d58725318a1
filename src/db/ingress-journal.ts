/**
 * The ingress journal in the database: `ingress_cursors` (one row per daemon key) and `ingress_events`.
 *
 * Every event the ingress takes in is looked up, and every one it handles is recorded; under a flood that is hundreds
 * of statements a second. Calls made in the same event-loop turn therefore share one statement per kind (a lookup of
 * many ids, one multi-row insert), each caller still resolving only once its own row is read or written.
 */
import { sqlOf, type Db } from './database.js';

export type IngressEventState = 'admitting' | 'done';

export interface IngressJournal {
  /** The saved cursor (unix s), or null before the first run. */
  loadCursor(): Promise<number | null>;
  saveCursor(position: number): Promise<void>;
  state(eventId: string): Promise<IngressEventState | null>;
  /** Admission of a trade action began: its trade-index side effects may follow (before any of them). */
  begin(eventId: string, createdAt: number): Promise<void>;
  /** The event was handed to its workflow, answered, or refused after admission began: a re-delivery is a replay. */
  finish(eventId: string, createdAt: number): Promise<void>;
  /** Forgets events whose outer `created_at` is before `createdBefore` (no catch-up reaches them any more). */
  prune(createdBefore: number): Promise<number>;
}

/** Calls collected during one event-loop turn and run as one statement. */
class Batcher<In, Out> {
  private pending: { input: In; resolve: (o: Out) => void; reject: (err: unknown) => void }[] = [];
  private scheduled = false;

  constructor(
    private readonly run: (inputs: In[]) => Promise<Out[]>,
    private readonly maxBatch = 500,
  ) {}

  call(input: In): Promise<Out> {
    return new Promise((resolve, reject) => {
      this.pending.push({ input, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => void this.flush());
      }
    });
  }

  private async flush(): Promise<void> {
    this.scheduled = false;
    while (this.pending.length > 0) {
      const batch = this.pending.splice(0, this.maxBatch);
      try {
        const out = await this.run(batch.map((b) => b.input));
        batch.forEach((b, i) => b.resolve(out[i]!));
      } catch (err) {
        for (const b of batch) b.reject(err);
      }
    }
  }
}

export class DbIngressJournal implements IngressJournal {
  private readonly lookups: Batcher<string, IngressEventState | null>;
  private readonly begins: Batcher<{ eventId: string; createdAt: number }, undefined>;
  private readonly finishes: Batcher<{ eventId: string; createdAt: number }, undefined>;

  constructor(
    private readonly db: Db,
    /** The daemon's pubkey: the cursor belongs to the subscription of this key. */
    private readonly pubkey: string,
    private readonly now: () => number = () => Math.floor(Date.now() / 1000),
  ) {
    const sql = sqlOf(db);
    // Fixed statements (arrays as parameters): prepared once, whatever the batch size.
    this.lookups = new Batcher(async (ids) => {
      const rows = await sql.query<{ event_id: string; done: boolean }>('SELECT "event_id", "done" FROM "ingress_events" WHERE "event_id" = ANY($1::text[])', [[...new Set(ids)]]);
      const byId = new Map(rows.map((r) => [r.event_id, r.done ? ('done' as const) : ('admitting' as const)]));
      return ids.map((id) => byId.get(id) ?? null);
    });
    this.begins = new Batcher(async (rows) => {
      await sql.execute(
        'INSERT INTO "ingress_events" ("event_id", "created_at", "done") SELECT e, c, false FROM unnest($1::text[], $2::bigint[]) AS t(e, c) ON CONFLICT ("event_id") DO NOTHING',
        [rows.map((r) => r.eventId), rows.map((r) => r.createdAt)],
      );
      return rows.map(() => undefined);
    });
    this.finishes = new Batcher(async (rows) => {
      // One row per event: ON CONFLICT cannot update the same row twice in a statement.
      const unique = [...new Map(rows.map((r) => [r.eventId, r])).values()];
      await sql.execute(
        'INSERT INTO "ingress_events" ("event_id", "created_at", "done") SELECT e, c, true FROM unnest($1::text[], $2::bigint[]) AS t(e, c) ON CONFLICT ("event_id") DO UPDATE SET "done" = true',
        [unique.map((r) => r.eventId), unique.map((r) => r.createdAt)],
      );
      return rows.map(() => undefined);
    });
  }

  async loadCursor(): Promise<number | null> {
    const row = await this.db.ingressCursor.findUnique({ where: { pubkey: this.pubkey } });
    return row ? Number(row.position) : null;
  }

  async saveCursor(position: number): Promise<void> {
    const data = { position: BigInt(position), updatedAt: BigInt(this.now()) };
    await this.db.ingressCursor.upsert({ where: { pubkey: this.pubkey }, create: { pubkey: this.pubkey, ...data }, update: data });
  }

  state(eventId: string): Promise<IngressEventState | null> {
    return this.lookups.call(eventId);
  }

  async begin(eventId: string, createdAt: number): Promise<void> {
    await this.begins.call({ eventId, createdAt });
  }

  async finish(eventId: string, createdAt: number): Promise<void> {
    await this.finishes.call({ eventId, createdAt });
  }

  async prune(createdBefore: number): Promise<number> {
    const r = await this.db.ingressEvent.deleteMany({ where: { createdAt: { lt: BigInt(createdBefore) } } });
    return r.count;
  }
}
