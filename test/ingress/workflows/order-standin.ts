/** A stand-in for the order workflow (issue 5): records what the ingress delivers, so routing can be tested. */
import { condition, defineQuery, setHandler } from '@temporalio/workflow';
import { ORDER_ACTIONS, orderSignals, type NewOrderInput } from '../../../src/workflows/order/contract.js';
import { type InboundMessage } from '../../../src/domain/messages.js';

export const receivedQuery = defineQuery<{ input: NewOrderInput; messages: InboundMessage[] }>('received');

export async function orderWorkflow(input: NewOrderInput): Promise<void> {
  const messages: InboundMessage[] = [];
  for (const action of ORDER_ACTIONS) setHandler(orderSignals[action], (m) => void messages.push(m));
  setHandler(receivedQuery, () => ({ input, messages }));
  await condition(() => messages.some((m) => m.action === 'cancel'));
}
