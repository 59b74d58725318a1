/**
 * `pay-invoice` is the daemon's request to a seller; a client that sends it gets `cant-do invalid_action`, as from the
 * reference (`handle_message_action_no_ln`). Every other daemon-to-client action a client sends is ignored there and
 * here: only this one is answered.
 */
import { CantDoError, type ActionHandler } from '../dispatch.js';

export const payInvoiceHandler: ActionHandler = async () => {
  throw new CantDoError('invalid_action');
};
