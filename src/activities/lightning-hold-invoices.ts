/**
 * Hold invoices, the escrow: the seller pays one, the payment is held until the trade settles or cancels it.
 *
 * Preimages are derived, never stored or returned: preimage = HMAC-SHA256(daemon secret, "mostro-hold-invoice:" +
 * key). `createHoldInvoice` returns only the hash and request; `settleHoldInvoice` recomputes the preimage from the
 * same key. Nothing secret enters workflow history, logs or the database.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { ApplicationFailure, Context } from '@temporalio/activity';
import * as ln from 'lightning';
import { holdInvoicePreimage } from '../lightning/preimage.js';
import { lndError, type LightningContext } from './lightning-deps.js';

export function createHoldInvoiceActivities(c: LightningContext) {
  const { lnd, db, settings, now } = c;
  const preimageFor = (key: string) => holdInvoicePreimage(c.preimageSecret, key);

  return {
    /**
     * A hold invoice whose preimage is derived from `key` (idempotent: a retry returns the same invoice). The owning
     * workflow (the calling workflow unless given) is recorded first, so the invoice watcher signals it when the
     * invoice is paid (ACCEPTED) or canceled.
     */
    async createHoldInvoice(input: {
      key: string;
      amountSats: number;
      memo: string;
      workflowId?: string;
    }): Promise<{ hash: string; request: string }> {
      const id = bytesToHex(sha256(preimageFor(input.key)));
      const workflowId = input.workflowId ?? callingWorkflowId();
      if (workflowId) {
        const t = BigInt(now());
        await db.holdInvoice.createMany({
          data: [{ paymentHash: id, key: input.key, workflowId, amountSats: BigInt(input.amountSats), createdAt: t, updatedAt: t }],
          skipDuplicates: true,
        });
      }
      try {
        const inv = await ln.createHodlInvoice({
          lnd,
          id,
          tokens: input.amountSats,
          description: input.memo,
          expires_at: new Date((now() + settings.holdInvoiceExpirySecs) * 1000).toISOString(),
          cltv_delta: settings.holdInvoiceCltvDelta,
        });
        c.onHoldInvoiceCreated?.();
        return { hash: id, request: inv.request };
      } catch (err) {
        // Created by an earlier attempt: hand out that invoice again.
        try {
          const existing = await ln.getInvoice({ lnd, id });
          if (existing.request) return { hash: id, request: existing.request };
        } catch {
          // fall through to the original error
        }
        throw lndError(err, 'createHoldInvoice');
      }
    },

    /** Settles the hold invoice of `key` (idempotent: already settled is fine). */
    async settleHoldInvoice(input: { key: string }): Promise<{ hash: string }> {
      const preimage = preimageFor(input.key);
      const hash = bytesToHex(sha256(preimage));
      try {
        await ln.settleHodlInvoice({ lnd, secret: bytesToHex(preimage) });
      } catch (err) {
        const inv = await ln.getInvoice({ lnd, id: hash }).catch(() => undefined);
        if (inv?.is_confirmed) return { hash };
        // The HTLC went back to its payer (LND canceled it at its CLTV, or the daemon did): it can never be settled.
        if (inv?.is_canceled) throw ApplicationFailure.nonRetryable('settleHoldInvoice: the invoice is canceled', 'InvoiceCanceled');
        throw lndError(err, 'settleHoldInvoice');
      }
      return { hash };
    },

    /** Cancels a hold invoice (idempotent: already canceled is fine; a settled one cannot be canceled). */
    async cancelHoldInvoice(input: { hash: string }): Promise<void> {
      try {
        await ln.cancelHodlInvoice({ lnd, id: input.hash });
      } catch (err) {
        const inv = await ln.getInvoice({ lnd, id: input.hash }).catch(() => undefined);
        if (inv?.is_canceled) return;
        if (inv?.is_confirmed) throw ApplicationFailure.nonRetryable('cancelHoldInvoice: the invoice is already settled', 'InvoiceSettled');
        throw lndError(err, 'cancelHoldInvoice');
      }
    },
  };
}

/** The workflow that runs this activity: a hold invoice's owner unless another is named. */
function callingWorkflowId(): string | undefined {
  try {
    return Context.current().info.workflowExecution?.workflowId;
  } catch {
    return undefined; // called outside an activity (tests, tools)
  }
}
