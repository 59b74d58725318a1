/**
 * Users' trade indexes in the database: the intake reads them, first contact creates the user (insert if absent,
 * atomic), and a handler that accepted a trade advances the index with a compare-and-set — a concurrent message with
 * the same or a lower index loses, as it must.
 */
import { sqlOf, type Db } from './database.js';

/** Users' trade indexes, by identity pubkey. Implementations must make `createUser` insert-if-absent atomic. */
export interface TradeIndexStore {
  /** The identity's `last_trade_index`, or null when it has no user row. */
  lastTradeIndex(identity: string): Promise<number | null>;
  /** First contact in reputation mode: create the user with this index. False when it could not be created. */
  createUser(identity: string, lastTradeIndex: number): Promise<boolean>;
}

export class DbTradeIndexStore implements TradeIndexStore {
  constructor(
    private readonly db: Db,
    private readonly now: () => number = () => Math.floor(Date.now() / 1000),
  ) {}

  async lastTradeIndex(identity: string): Promise<number | null> {
    // Read for most messages a trade sends: plain SQL (database.ts, `Sql`).
    const [u] = await sqlOf(this.db).query<{ last_trade_index: string | number | bigint }>('SELECT "last_trade_index" FROM "users" WHERE "pubkey" = $1', [identity]);
    return u ? Number(u.last_trade_index) : null;
  }

  async createUser(identity: string, lastTradeIndex: number): Promise<boolean> {
    const r = await this.db.user.createMany({
      data: [{ pubkey: identity, lastTradeIndex: BigInt(lastTradeIndex), createdAt: BigInt(this.now()) }],
      skipDuplicates: true,
    });
    return r.count === 1;
  }

  /** `UPDATE users SET last_trade_index = index WHERE pubkey = identity AND last_trade_index < index`. */
  async advance(identity: string, index: number): Promise<boolean> {
    const r = await this.db.user.updateMany({
      where: { pubkey: identity, lastTradeIndex: { lt: BigInt(index) } },
      data: { lastTradeIndex: BigInt(index), version: { increment: 1 } },
    });
    return r.count === 1;
  }
}
