/**
 * The SmallOrder views serialize byte for byte to the reference's messages (protocol.md §18 examples, with the
 * amounts they imply: amount 7,890 and fee 40 give 7,930 to lock and 7,850 to receive).
 */
import { describe, expect, it } from 'vitest';
import { message, serializeMessage, serializeSmallOrder } from '@mostro/protocol';
import { orderState } from '../helpers/orders.js';
import { addInvoiceOrder, escrowLockedOrder, payInvoiceOrder, publicOrder } from '../../src/workflows/order/views.js';

const ID = '308e1272-d5f4-47e6-bd97-3504baea9c23';
const BUYER = 'b'.repeat(64);
const SELLER = 'c'.repeat(64);
const order = orderState({
  status: 'waiting-payment',
  amount: 7_890,
  fee: 40,
  devFee: 24,
  creatorPubkey: SELLER,
  buyerPubkey: BUYER,
  sellerPubkey: SELLER,
  masterSellerPubkey: null,
  tradeIndexBuyer: 3,
  buyerInvoice: 'lnbcrt78500n1buyer',
  takenAt: 1_698_870_300,
});

describe('order views', () => {
  it('pay-invoice: the gross amount, the invoice stripped', () => {
    const json = serializeMessage(
      message({ request_id: 5, trade_index: 1, id: ID, action: 'pay-invoice', payload: { payment_request: [payInvoiceOrder(order), 'lnbcrt79300n1hold', null] } }),
    );
    expect(json).toBe(
      `{"order":{"version":2,"request_id":5,"trade_index":1,"id":"${ID}","action":"pay-invoice","payload":{"payment_request":[{"id":"${ID}","kind":"sell","status":"waiting-payment","amount":7930,"fiat_code":"VES","min_amount":null,"max_amount":null,"fiat_amount":100,"payment_method":"face to face","premium":1,"created_at":1698870173,"expires_at":1698956573},"lnbcrt79300n1hold",null]}}}`,
    );
  });

  it('add-invoice: the net amount, no expiry', () => {
    expect(serializeSmallOrder(addInvoiceOrder({ ...order, status: 'waiting-buyer-invoice' }))).toBe(
      `{"id":"${ID}","kind":"sell","status":"waiting-buyer-invoice","amount":7850,"fiat_code":"VES","min_amount":null,"max_amount":null,"fiat_amount":100,"payment_method":"face to face","premium":1,"created_at":1698870173,"expires_at":null}`,
    );
  });

  it('buyer-took-order / hold-invoice-payment-accepted: both trade keys, gross to the seller, net to the buyer', () => {
    const active = { ...order, status: 'active' as const };
    expect(serializeSmallOrder(escrowLockedOrder(active, 'seller'))).toBe(
      `{"id":"${ID}","kind":"sell","status":"active","amount":7930,"fiat_code":"VES","min_amount":null,"max_amount":null,"fiat_amount":100,"payment_method":"face to face","premium":1,"buyer_trade_pubkey":"${BUYER}","seller_trade_pubkey":"${SELLER}","created_at":1698870173,"expires_at":1698956573}`,
    );
    expect(escrowLockedOrder(active, 'buyer').amount).toBe(7_850);
  });

  it('the public view shows a buy order’s invoice and never trade keys', () => {
    const pub = serializeSmallOrder(publicOrder({ ...order, kind: 'buy', status: 'pending', amount: 0 }));
    expect(pub).toBe(
      `{"id":"${ID}","kind":"buy","status":"pending","amount":0,"fiat_code":"VES","min_amount":null,"max_amount":null,"fiat_amount":100,"payment_method":"face to face","premium":1,"buyer_invoice":"lnbcrt78500n1buyer","created_at":1698870173,"expires_at":1698956573}`,
    );
    expect(pub).not.toContain(BUYER);
  });
});
