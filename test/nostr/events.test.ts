/** The daemon's addressable events, tag for tag as the reference publishes them (protocol.md §28). */
import { describe, expect, it } from 'vitest';
import { bondPolicyOf } from '../../src/config/derive.js';
import { settingsFrom } from '../../src/config/settings.js';
import {
  MonotonicCreatedAt,
  disputeEvent,
  infoEvent,
  orderEvent,
  publishedStatus,
  ratingEvent,
  ratingTagValue,
  rustF64Display,
  type OrderEventInput,
} from '../../src/nostr/events.js';

const OID = '7dd204d2-d06c-4406-a3d9-4415f4a8b9c9';
const MOSTRO = '9a0e40e008c6dcfdb3c608a65ddf1c4e72eed7eeefbe1eb88ea0f1ea8b43dc4d';
const NOW = 1_800_000_000;
const order: OrderEventInput = {
  id: OID,
  kind: 'sell',
  status: 'pending',
  amount: 0,
  fiat_code: 'VES',
  min_amount: null,
  max_amount: null,
  fiat_amount: 100,
  payment_method: 'face to face,bank transfer',
  premium: 1,
  expires_at: NOW + 86_400,
};
const ctx = { now: NOW, orderDays: 30, relays: ['wss://r1', 'wss://r2'], mostroPubkey: MOSTRO, networks: ['mainnet'], instanceName: ' Mostro Test ' };

describe('order event (kind 38383)', () => {
  it('publishes a pending order with rating and source in the reference positions', () => {
    const ev = orderEvent(order, { ...ctx, reputation: { totalRating: 4.5, totalReviews: 7, userCreatedAt: NOW - 10 * 86_400 - 5 } })!;
    expect(ev.kind).toBe(38383);
    expect(ev.content).toBe('');
    expect(ev.tags).toEqual([
      ['d', OID],
      ['k', 'sell'],
      ['f', 'VES'],
      ['s', 'pending'],
      ['amt', '0'],
      ['fa', '100'],
      ['pm', 'face to face', 'bank transfer'],
      ['premium', '1'],
      ['rating', '["rating",{"days":10,"total_rating":4.5,"total_reviews":7}]'],
      ['source', `mostro:${OID}?relays=wss://r1,wss://r2&mostro=${MOSTRO}`],
      ['network', 'mainnet'],
      ['layer', 'lightning'],
      ['expires_at', String(NOW + 86_400)],
      ['expiration', String(NOW + 86_400)],
      ['y', 'mostro', 'Mostro Test'],
      ['z', 'order'],
    ]);
  });

  it('advertises a range while pending and a single amount once taken', () => {
    const range = { ...order, min_amount: 10, max_amount: 50, fiat_amount: 0 };
    expect(orderEvent(range, ctx)!.tags).toContainEqual(['fa', '10', '50']);
    const taken = orderEvent({ ...range, status: 'waiting-buyer-invoice', fiat_amount: 25 }, ctx)!;
    expect(taken.tags).toContainEqual(['fa', '25']);
    expect(taken.tags).toContainEqual(['s', 'in-progress']);
    // Not pending: no rating, no source, expiration from order_days.
    expect(taken.tags.map((t) => t[0])).not.toContain('source');
    expect(taken.tags).toContainEqual(['expiration', String(NOW + 30 * 86_400)]);
  });

  it('inserts source at index 8 when there is no rating tag (upstream positions)', () => {
    const ev = orderEvent(order, { ...ctx, networks: null, instanceName: '' })!;
    expect(ev.tags.slice(7, 11)).toEqual([
      ['premium', '1'],
      ['network', 'unknown'],
      ['source', `mostro:${OID}?relays=wss://r1,wss://r2&mostro=${MOSTRO}`],
      ['layer', 'lightning'],
    ]);
    expect(ev.tags).toContainEqual(['y', 'mostro']);
  });

  it('maps daemon statuses to the four NIP-69 buckets', () => {
    expect(publishedStatus('sell', 'waiting-buyer-invoice')).toBe('in-progress');
    expect(publishedStatus('buy', 'waiting-buyer-invoice')).toBeNull();
    expect(publishedStatus('buy', 'waiting-payment')).toBe('in-progress');
    expect(publishedStatus('sell', 'waiting-payment')).toBeNull();
    for (const s of ['canceled', 'canceled-by-admin', 'cooperatively-canceled', 'expired'] as const) {
      expect(publishedStatus('sell', s)).toBe('canceled');
    }
    expect(publishedStatus('sell', 'waiting-taker-bond')).toBe('pending');
    expect(publishedStatus('sell', 'completed-by-admin')).toBe('completed-by-admin');
    for (const s of ['active', 'fiat-sent', 'dispute', 'settled-hold-invoice', 'waiting-maker-bond'] as const) {
      expect(orderEvent({ ...order, status: s }, ctx)).toBeNull();
    }
  });

  it('writes a new user or full-privacy maker as zero reputation', () => {
    expect(ratingTagValue({ totalRating: 0, totalReviews: 0, userCreatedAt: 0 }, NOW)).toBe(
      '["rating",{"days":0,"total_rating":0.0,"total_reviews":0}]',
    );
  });

  it('gives every revision a strictly increasing created_at', () => {
    const m = new MonotonicCreatedAt();
    expect([m.next(OID, NOW), m.next(OID, NOW), m.next(OID, NOW - 5), m.next('other', NOW)]).toEqual([NOW, NOW + 1, NOW + 2, NOW]);
  });
});

describe('info event (kind 38385)', () => {
  const base = {
    now: NOW,
    mostroPubkey: MOSTRO,
    version: '0.1.0',
    commitHash: 'abc123',
    maxOrderAmount: 1_000_000,
    minPaymentAmount: 100,
    expirationHours: 24,
    expirationSeconds: 900,
    fiatCurrenciesAccepted: ['USD', 'VES'],
    maxOrdersPerResponse: 10,
    fee: 0.006,
    pow: 0,
    powFirstContact: 8,
    protocolVersion: 2 as const,
    holdInvoiceExpirationWindow: 300,
    holdInvoiceCltvDelta: 144,
    invoiceExpirationWindow: 3600,
    lnd: { version: '0.18.0-beta', nodePubkey: '02ab', commitHash: 'c0ffee', alias: 'sim', chains: ['bitcoin'], networks: ['regtest'], uris: [] },
    bond: null,
  };

  it('lists every tag in order, with protocol_version and bond_enabled', () => {
    const ev = infoEvent(base);
    expect(ev.tags.map((t) => t[0])).toEqual([
      'd', 'mostro_version', 'mostro_commit_hash', 'max_order_amount', 'min_order_amount', 'expiration_hours',
      'expiration_seconds', 'fiat_currencies_accepted', 'max_orders_per_response', 'fee', 'pow', 'pow_first_contact',
      'protocol_version', 'hold_invoice_expiration_window', 'hold_invoice_cltv_delta', 'invoice_expiration_window',
      'lnd_version', 'lnd_node_pubkey', 'lnd_commit_hash', 'lnd_node_alias', 'lnd_chains', 'lnd_networks', 'lnd_uris',
      'y', 'z', 'bond_enabled',
    ]);
    expect(ev.tags).toContainEqual(['protocol_version', '2']);
    expect(ev.tags).toContainEqual(['fee', '0.006']);
    expect(ev.tags).toContainEqual(['fiat_currencies_accepted', 'USD,VES']);
    expect(ev.tags).toContainEqual(['invoice_expiration_window', '3600']);
    expect(ev.tags).toContainEqual(['bond_enabled', 'false']);
    expect(ev.tags.map((t) => t[0])).not.toContain('expiration');
  });

  it('adds the bond policy tags when bonds are enabled', () => {
    const ev = infoEvent({
      ...base,
      bond: { enabled: true, amountPct: 1, baseAmountSats: 1000, applyTo: 'take', slashOnWaitingTimeout: false, slashNodeSharePct: 0.5, payoutClaimWindowDays: 7 },
    });
    expect(ev.tags.slice(-7)).toEqual([
      ['bond_enabled', 'true'],
      ['bond_amount_pct', '1'],
      ['bond_base_amount_sats', '1000'],
      ['bond_apply_to', 'take'],
      ['bond_slash_on_waiting_timeout', 'false'],
      ['bond_slash_node_share_pct', '0.5'],
      ['bond_payout_claim_window_days', '7'],
    ]);
  });
  it('publishes the bond policy of settings.toml: off by default, every value as configured when on', () => {
    expect(infoEvent({ ...base, bond: bondPolicyOf(settingsFrom({})) }).tags.slice(-1)).toEqual([['bond_enabled', 'false']]);
    const on = bondPolicyOf(settingsFrom({ anti_abuse_bond: { enabled: true, amount_pct: 0.02, apply_to: 'both', slash_on_waiting_timeout: true, slash_node_share_pct: 0.4 } }));
    expect(infoEvent({ ...base, bond: on }).tags.slice(-7)).toEqual([
      ['bond_enabled', 'true'],
      ['bond_amount_pct', '0.02'],
      ['bond_base_amount_sats', '1000'],
      ['bond_apply_to', 'both'],
      ['bond_slash_on_waiting_timeout', 'true'],
      ['bond_slash_node_share_pct', '0.4'],
      ['bond_payout_claim_window_days', '15'],
    ]);
  });
});

describe('dispute and rating events', () => {
  it('builds a dispute event with the open time, not the event time', () => {
    const ev = disputeEvent({ disputeId: OID, status: 'initiated', initiator: 'buyer', openedAt: NOW - 60, now: NOW, disputeDays: 90 });
    expect(ev).toEqual({
      kind: 38386,
      created_at: NOW,
      tags: [['d', OID], ['expiration', String(NOW + 90 * 86_400)], ['s', 'initiated'], ['initiator', 'buyer'], ['created_at', String(NOW - 60)], ['y', 'mostro'], ['z', 'dispute']],
      content: '',
    });
  });

  it('builds a rating event, with the y tag as the docs show when asked', () => {
    const ev = ratingEvent({ d: MOSTRO, totalReviews: 3, totalRating: 4, lastRating: 5, maxRate: 5, minRate: 3, days: 12, now: NOW, ratingDays: 90, withPlatformTag: true });
    expect(ev.tags).toEqual([
      ['d', MOSTRO],
      ['expiration', String(NOW + 90 * 86_400)],
      ['total_reviews', '3'],
      ['total_rating', '4'],
      ['last_rating', '5'],
      ['max_rate', '5'],
      ['min_rate', '3'],
      ['z', 'rating'],
      ['days', '12'],
      ['y', 'mostro'],
    ]);
  });

  it('prints f64 as Rust Display does', () => {
    expect([rustF64Display(1), rustF64Display(0), rustF64Display(0.006), rustF64Display(1e-7), rustF64Display(1e21), rustF64Display(-2.5)]).toEqual([
      '1', '0', '0.006', '0.0000001', '1000000000000000000000', '-2.5',
    ]);
  });
});
