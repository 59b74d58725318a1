/**
 * The contract between the ingress and order workflows: workflow ids, the workflow type, and one named signal per
 * order action (so a trade's history in the Temporal Web UI reads `take-sell`, `fiat-sent`, `release`…). Imported by
 * workflow code and by the ingress alike, so it holds no I/O.
 */
import { defineQuery, defineSignal, type SignalDefinition } from '@temporalio/workflow';
import type { Action } from '@mostro/protocol/schema';
import type { InboundMessage } from '../../domain/messages.js';
import type { OrderSettings } from '../../domain/order-settings.js';
import type { SupportRequest } from '../../domain/support.js';
export const ORDER_WORKFLOW_TYPE = 'orderWorkflow';

export function orderWorkflowId(orderId: string): string {
  return `order-${orderId}`;
}

/** Actions whose `id` names an order and that the order's workflow handles. */
export const ORDER_ACTIONS = [
  'take-sell',
  'take-buy',
  'add-invoice',
  'fiat-sent',
  'release',
  'cancel',
  'dispute',
  'rate-user',
  'trade-pubkey',
  'admin-cancel',
  'admin-settle',
  /** Routed by dispute id (the ingress finds the order). */
  'admin-take-dispute',
] as const satisfies readonly Action[];

export type OrderAction = (typeof ORDER_ACTIONS)[number];

export const isOrderAction = (a: string): a is OrderAction => (ORDER_ACTIONS as readonly string[]).includes(a);

/**
 * Signals ingresses sent to order workflows before slashed bonds had a payout workflow of their own: no ingress sends
 * them now (`add-bond-invoice` goes to the payout), but the order workflow still answers them (`invalid_action`) so
 * the histories of workflows that received one replay.
 */
export const LEGACY_ORDER_SIGNALS = ['add-bond-invoice'] as const satisfies readonly Action[];

/** Every signal name an order workflow's inbox takes: the order actions and the legacy ones. */
export type InboxAction = OrderAction | (typeof LEGACY_ORDER_SIGNALS)[number];
export const INBOX_ACTIONS: readonly InboxAction[] = [...ORDER_ACTIONS, ...LEGACY_ORDER_SIGNALS];

/** The signal for each order action; its name is the protocol action. */
export const orderSignals = Object.fromEntries(INBOX_ACTIONS.map((a) => [a, defineSignal<[InboundMessage]>(a)])) as Record<
  InboxAction,
  SignalDefinition<[InboundMessage]>
>;

/** Input of a new order workflow: the `new-order` message and the order id derived from its event. */
export interface NewOrderInput {
  orderId: string;
  message: InboundMessage;
  /**
   * The order settings, from the ingress (which reads the same settings.toml as the workers); without them the
   * workflow asks the `orderSettings` activity (orders started by older ingresses).
   */
  settings?: OrderSettings;
}

/** Support staff's repair requests (see `supportRequest` in machine.ts); sent by `mostro admin signal`. */
export const supportSignal = defineSignal<[SupportRequest]>('support');

/** What a message the order's workflow received came to: 'ok', a cant-do reason, or null (not handled yet). */
export const messageOutcomeQuery = defineQuery<string | null, [string]>('messageOutcome');
