/**
 * The node and its plain invoices: node info, invoices the daemon is paid on, decoding, any invoice's state, and the
 * reference's rules for the invoices users send. Hold invoices (the escrow) and payments have groups of their own.
 */
import * as ln from 'lightning';
import { validatePaymentRequest, type InvoiceCheck } from '../lightning/invoice-validation.js';
import { lndError, networkNames, type LightningContext } from './lightning-deps.js';

export function createInvoiceActivities(c: LightningContext) {
  const { lnd, settings, now, rules, network } = c;
  return {
    async getNodeInfo(): Promise<{
      pubkey: string;
      alias: string;
      network: string;
      blockHeight: number;
      version: string;
      uris: string[];
    }> {
      try {
        const info = await ln.getWalletInfo({ lnd });
        return {
          pubkey: info.public_key,
          alias: info.alias,
          network: networkNames(info.chains),
          blockHeight: info.current_block_height,
          version: info.version,
          uris: info.uris ?? [],
        };
      } catch (err) {
        throw lndError(err, 'getNodeInfo');
      }
    },

    async lookupInvoice(input: { hash: string }): Promise<{
      state: 'open' | 'held' | 'settled' | 'canceled';
      amountSats: number;
      receivedSats: number;
      request: string;
    }> {
      try {
        const inv = await ln.getInvoice({ lnd, id: input.hash });
        const state = inv.is_confirmed ? 'settled' : inv.is_canceled ? 'canceled' : inv.is_held ? 'held' : 'open';
        return { state, amountSats: inv.tokens, receivedSats: inv.received, request: inv.request ?? '' };
      } catch (err) {
        throw lndError(err, 'lookupInvoice');
      }
    },

    async createInvoice(input: { amountSats: number; memo: string }): Promise<{ hash: string; request: string }> {
      try {
        const inv = await ln.createInvoice({
          lnd,
          tokens: input.amountSats,
          description: input.memo,
          expires_at: new Date((now() + settings.invoiceExpirySecs) * 1000).toISOString(),
        });
        return { hash: inv.id, request: inv.request };
      } catch (err) {
        throw lndError(err, 'createInvoice');
      }
    },

    async decodeInvoice(input: { request: string }): Promise<{
      hash: string;
      destination: string;
      amountSats: number;
      description: string;
      expiresAt: string;
      cltvDelta: number;
    }> {
      try {
        const d = await ln.decodePaymentRequest({ lnd, request: input.request });
        return {
          hash: d.id,
          destination: d.destination,
          amountSats: d.tokens,
          description: d.description ?? '',
          expiresAt: d.expires_at,
          cltvDelta: d.cltv_delta ?? 0,
        };
      } catch (err) {
        throw lndError(err, 'decodeInvoice');
      }
    },

    /**
     * The reference's invoice rules for a request a user sent (buyer invoice, bond payout invoice). Returns which
     * rule failed rather than throwing: the caller answers `cant-do invalid_invoice` and stores nothing.
     */
    async validateInvoice(input: { request: string; amountSats?: number; feeSats?: number }): Promise<InvoiceCheck> {
      return validatePaymentRequest(
        input.request,
        { amountSats: input.amountSats, feeSats: input.feeSats },
        { nodeNetwork: await network(), now: now(), rules, lnurl: c.lnurl },
      );
    },
  };
}
