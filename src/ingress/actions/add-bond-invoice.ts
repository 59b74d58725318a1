/**
 * A slashed bond's winner sends its payout invoice (`add-bond-invoice`, bonds.md §15.3). The payout is a workflow of
 * its own (`bondPayoutWorkflow`), which validates the invoice against the share and answers; this handler only finds
 * which payout the sender is owed on that order — from the `bonds` projection, by the recipient recorded at slash
 * time — and signals it. Several debts on one order are told apart by the invoice's amount.
 */
import invoices from 'invoices';
import type { Db } from '../../db/database.js';
import type { InboundMessage } from '../../domain/messages.js';
import { CantDoError, type ActionHandler } from '../dispatch.js';
import { inboundMessage } from '../router.js';

/** Signals the payout workflow of `bondId`; false when it no longer runs. */
export type BondPayoutSignal = (bondId: string, message: InboundMessage) => Promise<boolean>;

function invoiceAmountSats(request: string): number | null {
  try {
    const p = invoices.parsePaymentRequest({ request: request.trim() });
    return p.tokens ?? null;
  } catch {
    return null;
  }
}

export function addBondInvoiceHandler(db: Db, signal: BondPayoutSignal): ActionHandler {
  return async (m) => {
    const orderId = m.kind.id;
    if (!orderId) throw new CantDoError('invalid_payload');
    const p = m.kind.payload;
    const request = p && 'payment_request' in p ? p.payment_request[1].trim() : '';
    if (request === '') throw new CantDoError('invalid_invoice');
    const owed = await db.bond.findMany({
      where: { orderId, payoutRecipient: m.unwrapped.sender, state: { in: ['pending-payout', 'failed'] } },
      orderBy: { slashedAt: 'desc' },
      select: { id: true, amountSats: true, nodeShareSats: true },
    });
    if (owed.length === 0) throw new CantDoError('not_allowed_by_status');
    const amount = invoiceAmountSats(request);
    const share = (b: (typeof owed)[number]) => Number(b.amountSats - (b.nodeShareSats ?? 0n));
    const bond = owed.find((b) => amount !== null && share(b) === amount) ?? owed[0]!;
    if (!(await signal(bond.id, inboundMessage(m)))) throw new CantDoError('not_allowed_by_status');
  };
}
