/**
 * `last-trade-index` (MostroP2P/mostro `src/app/last_trade_index.rs`): a client restoring its keys asks for the last
 * trade index the daemon knows for its identity. The answer travels in the MessageKind's `trade_index`.
 */
import { message } from '@mostro/protocol';
import type { TradeIndexStore } from '../../db/trade-index-store.js';
import { CantDoError, type ActionHandler } from '../dispatch.js';

export function lastTradeIndexHandler(store: TradeIndexStore): ActionHandler {
  return async ({ unwrapped, kind }, io) => {
    const last = await store.lastTradeIndex(unwrapped.identity);
    if (last === null) throw new CantDoError('not_found');
    if (last === 0) throw new CantDoError('invalid_trade_index');
    await io.reply(
      unwrapped.sender,
      message({ wrapper: 'restore', action: 'last-trade-index', request_id: kind.request_id, trade_index: last }),
    );
  };
}
