/**
 * The contract between the ingress and order workflows: workflow ids, the workflow type, and the one signal that
 * carries a party's message. Imported by workflow code and by the ingress alike, so it holds no I/O.
 */
import { defineSignal } from '@temporalio/workflow';

export const ORDER_WORKFLOW_TYPE = 'orderWorkflow';

export function orderWorkflowId(orderId: string): string {
  return `order-${orderId}`;
}

/**
 * An accepted inbound message as the ingress hands it to a workflow. Plain JSON: the message travels as its
 * canonical JSON text, so a 64-bit `request_id` survives Temporal's JSON payloads.
 */
export interface InboundMessage {
  /** The Nostr event that carried it (idempotency key). */
  eventId: string;
  action: string;
  messageJson: string;
  /** The trade key: where replies go. */
  sender: string;
  /** The identity key (equals `sender` in full privacy). */
  identity: string;
  /** Inner `created_at` (unix seconds). */
  createdAt: number;
  transport: 'nip44' | 'gift-wrap';
}

/** Every party message for an existing order arrives through this signal (handled per action inside). */
export const orderMessageSignal = defineSignal<[InboundMessage]>('orderMessage');

/** Input of a new order workflow: the `new-order` message and the order id derived from its event. */
export interface NewOrderInput {
  orderId: string;
  message: InboundMessage;
}
