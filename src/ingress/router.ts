/**
 * Routing of accepted messages: `new-order` starts an order workflow, order-scoped actions signal the order's
 * workflow, everything else goes to a handler of its own. The order id of a new order is derived from the event id,
 * so the same event delivered twice (two relays) starts one workflow.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';
import { serializeMessage, type Action, type CantDoReason } from '@mostro/protocol';
import { ORDER_ACTIONS } from '../workflows/order/contract.js';
import { checkNewOrder, type NewOrderLimits } from '../workflows/order/actions/new-order.js';
import { CantDoError, type AcceptedMessage, type ActionHandler } from './dispatch.js';
import { type InboundMessage } from '../domain/messages.js';

/** What the router needs from Temporal (or a test double). */
export interface OrderGateway {
  /** Starts the order's workflow; false when it was already started (a duplicate delivery). */
  startOrder(orderId: string, message: InboundMessage): Promise<boolean>;
  /** Signals the order's workflow; false when no workflow exists for that order. */
  signalOrder(orderId: string, message: InboundMessage): Promise<boolean>;
}

/** A UUID (version 4 layout) derived from an event id: stable across redeliveries of the same event. */
export function orderIdForEvent(eventId: string): string {
  const h = bytesToHex(sha256(utf8ToBytes(`mostro-order:${eventId}`)));
  const variant = ((parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export function inboundMessage(m: AcceptedMessage): InboundMessage {
  return {
    eventId: m.event.id,
    action: m.kind.action,
    messageJson: serializeMessage(m.unwrapped.message),
    sender: m.unwrapped.sender,
    identity: m.unwrapped.identity,
    createdAt: m.unwrapped.createdAt,
    transport: m.unwrapped.transport,
    ...(m.receivedAtMs !== undefined ? { receivedAtMs: m.receivedAtMs } : {}),
  };
}

/** Statuses of an order that was canceled one way or another (the reference's `order_already_canceled` set). */
const CANCELED: readonly string[] = ['canceled', 'cooperatively-canceled', 'canceled-by-admin'];

/**
 * The answer for a message about an order whose workflow has finished and closed (the projection still knows it):
 * what the reference answers for that action and final status.
 */
export function closedOrderReason(action: string, status: string): CantDoReason {
  if (action === 'cancel' && CANCELED.includes(status)) return 'order_already_canceled';
  if (action === 'take-sell' || action === 'take-buy') return 'invalid_order_status';
  return 'not_allowed_by_status';
}

/** Control characters and surrogates: text whose handling the order workflow decides (it may refuse it first). */
const UNUSUAL_TEXT = /[\u0000-\u001f\ud800-\udfff]/;

function hasUnusualText(value: unknown): boolean {
  if (typeof value === 'string') return UNUSUAL_TEXT.test(value);
  if (Array.isArray(value)) return value.some(hasUnusualText);
  if (value !== null && typeof value === 'object') return Object.entries(value).some(([k, v]) => UNUSUAL_TEXT.test(k) || hasUnusualText(v));
  return false;
}

/**
 * What the order workflow would answer a `new-order` it refuses without looking anything up — currency, amounts,
 * range bounds, a premium on a fixed amount, a fixed amount out of range (`checkNewOrder` without a price) — or null
 * when the workflow must decide (a valid order, a buyer invoice to validate first, a market price to fetch, text it
 * may refuse before these checks). A storm of such orders is answered here, without starting a workflow each.
 */
export function newOrderRefusal(m: AcceptedMessage, limits: NewOrderLimits): CantDoReason | null {
  const p = m.kind.payload;
  if (!p || !('order' in p)) return null;
  const order = p.order;
  if (order.buyer_invoice || hasUnusualText(order)) return null;
  const check = checkNewOrder({ ...order, amount: order.amount ?? 0 }, limits, undefined);
  return !check.ok && 'reason' in check ? check.reason : null;
}

/**
 * Handlers for `new-order` and the order-scoped actions, to merge into the ingress' handler table. `finalStatus`
 * looks up an order no workflow answers for any more (the orders projection); without it such messages get
 * `not_found`.
 */
export function orderRoutes(
  gateway: OrderGateway,
  finalStatus?: (orderId: string) => Promise<string | null>,
  /** The order a dispute belongs to (`admin-take-dispute` names the dispute). */
  orderOfDispute?: (disputeId: string) => Promise<string | null>,
  /** The order settings' limits: `new-order`s they refuse outright are answered without a workflow. */
  newOrderLimits?: NewOrderLimits,
): Partial<Record<Action, ActionHandler>> {
  const startOrder: ActionHandler = async (m) => {
    const orderId = orderIdForEvent(m.event.id);
    const refusal = newOrderLimits ? newOrderRefusal(m, newOrderLimits) : null;
    if (refusal) {
      // Byte for byte the workflow's answer: the request's own request_id and id (a new order has none).
      throw new CantDoError(refusal);
    }
    await gateway.startOrder(orderId, inboundMessage(m));
  };
  const toOrder: ActionHandler = async (m) => {
    const orderId = m.kind.id;
    if (!orderId) throw new CantDoError('not_found');
    if (await gateway.signalOrder(orderId, inboundMessage(m))) return;
    const status = finalStatus ? await finalStatus(orderId) : null;
    throw new CantDoError(status ? closedOrderReason(m.kind.action, status) : 'not_found');
  };
  const toDisputedOrder: ActionHandler = async (m) => {
    const orderId = m.kind.id && orderOfDispute ? await orderOfDispute(m.kind.id) : null;
    if (!orderId || !(await gateway.signalOrder(orderId, inboundMessage(m)))) throw new CantDoError('not_found');
  };
  const routes: Partial<Record<Action, ActionHandler>> = { 'new-order': startOrder };
  for (const a of ORDER_ACTIONS) routes[a] = toOrder;
  routes['admin-take-dispute'] = toDisputedOrder;
  return routes;
}
