/** The OrderGateway on Temporal: one workflow per order, started with reject-duplicate, signalled by id. */
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, type Client } from '@temporalio/client';
import { ORDER_WORKFLOW_TYPE, isOrderAction, orderSignals, orderWorkflowId, type NewOrderInput } from '../workflows/order/contract.js';
import { type InboundMessage } from '../domain/messages.js';
import type { OrderSettings } from '../domain/order-settings.js';
import type { OrderGateway } from './router.js';

export class TemporalOrderGateway implements OrderGateway {
  constructor(
    private readonly client: Client,
    private readonly taskQueue: string,
    /** Given to each new order workflow (saves it a round trip to ask for them). */
    private readonly orderSettings?: OrderSettings,
  ) {}

  async startOrder(orderId: string, message: InboundMessage): Promise<boolean> {
    try {
      await this.client.workflow.start(ORDER_WORKFLOW_TYPE, {
        taskQueue: this.taskQueue,
        workflowId: orderWorkflowId(orderId),
        args: [{ orderId, message, ...(this.orderSettings ? { settings: this.orderSettings } : {}) } satisfies NewOrderInput],
        // An order id is used once, ever: a redelivered event must never start a second order.
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
      });
      return true;
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) return false;
      throw err;
    }
  }

  async signalOrder(orderId: string, message: InboundMessage): Promise<boolean> {
    try {
      if (!isOrderAction(message.action)) throw new Error(`not an order action: ${message.action}`);
      await this.client.workflow.getHandle(orderWorkflowId(orderId)).signal(orderSignals[message.action], message);
      return true;
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return false;
      throw err;
    }
  }
}
