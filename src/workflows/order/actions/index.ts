/**
 * The order's actions: one handler per protocol action a trade's workflow receives, each in its own file with its
 * guards, decision and handling. Adding an order action is one new file here and one line in this table.
 */
import type { InboxAction } from '../contract.js';
import type { MessageHandler } from '../context.js';
import { onAddInvoice } from './add-invoice.js';
import { onSolverAction } from './admin.js';
import { onCancel } from './cancel.js';
import { onDispute } from './dispute.js';
import { onFiatSent } from './fiat-sent.js';
import { onRateUser } from './rate-user.js';
import { onRelease } from './release.js';
import { onTake } from './take.js';
import { onTradePubkey } from './trade-pubkey.js';

/** A legacy signal (`LEGACY_ORDER_SIGNALS`): not an order's action, answered as unknown. */
const notAnOrderAction: MessageHandler = (ctx, m, { rid }) => ctx.reply(m.sender, rid, 'invalid_action');

export const ORDER_ACTION_HANDLERS: Record<InboxAction, MessageHandler> = {
  'take-sell': onTake,
  'take-buy': onTake,
  'add-invoice': onAddInvoice,
  'fiat-sent': onFiatSent,
  release: onRelease,
  cancel: onCancel,
  dispute: onDispute,
  'rate-user': onRateUser,
  'trade-pubkey': onTradePubkey,
  'admin-take-dispute': onSolverAction,
  'admin-settle': onSolverAction,
  'admin-cancel': onSolverAction,
  'add-bond-invoice': notAnOrderAction,
};
