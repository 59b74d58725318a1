/** The ingress journal in the database: `ingress_cursors` (one row per daemon key) and `ingress_events`. */
import type { IngressEventState, IngressJournal } from '../ingress/journal.js';
import type { Db } from './database.js';

export class DbIngressJournal implements IngressJournal {
  constructor(
    private readonly db: Db,
    /** The daemon's pubkey: the cursor belongs to the subscription of this key. */
    private readonly pubkey: string,
    private readonly now: () => number = () => Math.floor(Date.now() / 1000),
  ) {}

  async loadCursor(): Promise<number | null> {
    const row = await this.db.ingressCursor.findUnique({ where: { pubkey: this.pubkey } });
    return row ? Number(row.position) : null;
  }

  async saveCursor(position: number): Promise<void> {
    const data = { position: BigInt(position), updatedAt: BigInt(this.now()) };
    await this.db.ingressCursor.upsert({ where: { pubkey: this.pubkey }, create: { pubkey: this.pubkey, ...data }, update: data });
  }

  async state(eventId: string): Promise<IngressEventState | null> {
    const row = await this.db.ingressEvent.findUnique({ where: { eventId }, select: { done: true } });
    return row ? (row.done ? 'done' : 'admitting') : null;
  }

  async begin(eventId: string, createdAt: number): Promise<void> {
    await this.db.ingressEvent.createMany({ data: [{ eventId, createdAt: BigInt(createdAt) }], skipDuplicates: true });
  }

  async finish(eventId: string, createdAt: number): Promise<void> {
    await this.db.ingressEvent.upsert({
      where: { eventId },
      create: { eventId, createdAt: BigInt(createdAt), done: true },
      update: { done: true },
    });
  }

  async prune(createdBefore: number): Promise<number> {
    const r = await this.db.ingressEvent.deleteMany({ where: { createdAt: { lt: BigInt(createdBefore) } } });
    return r.count;
  }
}
