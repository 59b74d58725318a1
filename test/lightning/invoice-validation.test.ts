/**
 * The invoice rules table: one case per rule of the reference (network, final CLTV, expiry, amount = 0 or exactly
 * amount − fee, minimum payment, expiry window), with real signed BOLT11 invoices and a fixed clock.
 */
import { describe, expect, it } from 'vitest';
import { randomBytes, bytesToHex } from '@noble/hashes/utils.js';
import { checkBolt11, DEFAULT_INVOICE_RULES, type InvoiceCheck } from '../../src/lightning/invoice-validation.js';
import { encodeBolt11 } from '@mostro/lnsim';

const NOW = 1_800_000_000;
const key = randomBytes(32);
const bolt11 = (o: { sats: number; network?: string; createdAt?: number; expirySecs?: number; cltvDelta?: number }) =>
  encodeBolt11({
    secretKey: key,
    network: o.network ?? 'regtest',
    hash: bytesToHex(randomBytes(32)),
    sats: o.sats,
    createdAt: o.createdAt ?? NOW - 60,
    expirySecs: o.expirySecs ?? 86_400,
    cltvDelta: o.cltvDelta ?? 40,
  });
const check = (request: string, expect: { amountSats?: number; feeSats?: number } = {}, nodeNetwork = 'regtest'): InvoiceCheck =>
  checkBolt11(request, expect, { nodeNetwork, now: NOW, rules: DEFAULT_INVOICE_RULES });
const ruleOf = (c: InvoiceCheck) => (c.valid ? 'valid' : c.rule);

describe('BOLT11 rules', () => {
  it.each([
    ['exact amount − fee', () => check(bolt11({ sats: 9_900 }), { amountSats: 10_000, feeSats: 100 }), 'valid'],
    ['amountless invoice', () => check(bolt11({ sats: 0 }), { amountSats: 10_000, feeSats: 100 }), 'valid'],
    ['amount not compared when none is expected', () => check(bolt11({ sats: 777 })), 'valid'],
    ['one sat too many', () => check(bolt11({ sats: 9_901 }), { amountSats: 10_000, feeSats: 100 }), 'wrong_amount'],
    ['the fee not taken off', () => check(bolt11({ sats: 10_000 }), { amountSats: 10_000, feeSats: 100 }), 'wrong_amount'],
    ['fee larger than the amount', () => check(bolt11({ sats: 0 }), { amountSats: 50, feeSats: 100 }), 'wrong_amount'],
    ['testnet invoice, regtest node', () => check(bolt11({ sats: 0, network: 'testnet' })), 'wrong_network'],
    ['mainnet invoice, regtest node', () => check(bolt11({ sats: 0, network: 'bitcoin' })), 'wrong_network'],
    ['mainnet invoice, mainnet node', () => check(bolt11({ sats: 0, network: 'bitcoin' }), {}, 'mainnet'), 'valid'],
    ['signet invoice, signet node', () => check(bolt11({ sats: 0, network: 'signet' }), {}, 'signet'), 'valid'],
    ['final CLTV delta 432', () => check(bolt11({ sats: 0, cltvDelta: 432 })), 'valid'],
    ['final CLTV delta 433', () => check(bolt11({ sats: 0, cltvDelta: 433 })), 'cltv_too_large'],
    ['expired an hour ago', () => check(bolt11({ sats: 0, createdAt: NOW - 7_200, expirySecs: 3_600 })), 'expired'],
    ['99 sats (minimum is 100)', () => check(bolt11({ sats: 99 })), 'below_min_payment'],
    ['100 sats', () => check(bolt11({ sats: 100 })), 'valid'],
    ['99 sats expected and invoiced', () => check(bolt11({ sats: 99 }), { amountSats: 99 }), 'below_min_payment'],
    ['expires in 3,599 s (window 3,600)', () => check(bolt11({ sats: 0, createdAt: NOW, expirySecs: 3_599 })), 'expires_too_soon'],
    ['expires in exactly 3,600 s', () => check(bolt11({ sats: 0, createdAt: NOW, expirySecs: 3_600 })), 'valid'],
    ['not an invoice', () => check('lnbcrt1notaninvoice'), 'malformed'],
    ['empty', () => check(''), 'malformed'],
    ['a bitcoin address', () => check('bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080'), 'malformed'],
  ])('%s → %s', (_name, run, expected) => {
    expect(ruleOf(run())).toBe(expected);
  });

  it('reports the amount, hash and expiry of a valid invoice', () => {
    const request = bolt11({ sats: 5_000, createdAt: NOW, expirySecs: 7_200 });
    expect(check(request, { amountSats: 5_000 })).toMatchObject({ valid: true, kind: 'bolt11', amountSats: 5_000, expiresAt: NOW + 7_200 });
  });

  it('applies the configured minimum and window', () => {
    const request = bolt11({ sats: 150, createdAt: NOW, expirySecs: 1_000 });
    const rules = { ...DEFAULT_INVOICE_RULES, minPaymentAmount: 200, invoiceExpirationWindowSecs: 600 };
    expect(ruleOf(checkBolt11(request, {}, { nodeNetwork: 'regtest', now: NOW, rules }))).toBe('below_min_payment');
    const rules2 = { ...rules, minPaymentAmount: 100 };
    expect(ruleOf(checkBolt11(request, {}, { nodeNetwork: 'regtest', now: NOW, rules: rules2 }))).toBe('valid');
  });
});
