/**
 * Lightning Address / LNURL-pay resolution against a local HTTP server (the simulator's address server), and the
 * SSRF guard: a private or loopback target is refused before any request leaves unless explicitly allowed.
 */
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_INVOICE_RULES, validatePaymentRequest } from '../../src/lightning/invoice-validation.js';
import { encodeLnurl, isLnurlLike, lnurlEndpoint, lnurlExists, resolveLnurlInvoice } from '../../src/lightning/lnurl.js';
import { isPrivateAddress } from '../../src/lightning/ssrf.js';
import { encodeBolt11, SimNetwork, startLnurlServer, type LnurlServer } from '@mostro/lnsim';
import invoices from 'invoices';

const net = new SimNetwork('regtest');
net.addNode('buyer');
const local = { allowPrivateHosts: true, allowHttp: true, timeoutMs: 2_000 };
let srv: LnurlServer;

beforeAll(async () => {
  srv = await startLnurlServer(net, { commentAllowed: 10, minSendableMsat: 10_000, maxSendableMsat: 50_000_000 });
});
afterAll(async () => {
  await srv.close();
});

describe('recognising addresses', () => {
  it('tells Lightning Addresses and LNURLs from BOLT11 invoices', () => {
    expect(isLnurlLike('alice@example.com')).toBe(true);
    expect(isLnurlLike(encodeLnurl('https://example.com/.well-known/lnurlp/alice'))).toBe(true);
    expect(isLnurlLike(encodeLnurl('https://example.com/x').toLowerCase())).toBe(true);
    expect(isLnurlLike(net.createInvoice({ node: 'buyer', valueSats: 1 }).request)).toBe(false);
    expect(isLnurlLike('lnurl1notvalidbech32')).toBe(false);
    expect(isLnurlLike('no-at-sign')).toBe(false);
  });

  it('maps an address to its well-known HTTPS endpoint', () => {
    expect(lnurlEndpoint('Alice@Example.com').href).toBe('https://example.com/.well-known/lnurlp/Alice');
    expect(lnurlEndpoint(encodeLnurl('https://pay.example.com/lnurlp/abc?x=1')).href).toBe('https://pay.example.com/lnurlp/abc?x=1');
  });
});

describe('existence check (what new-order / add-invoice / take-sell run)', () => {
  const ctx = { nodeNetwork: 'regtest', now: Math.floor(Date.now() / 1000), rules: DEFAULT_INVOICE_RULES, lnurl: local };

  it('accepts an address whose endpoint answers payRequest, and a bech32 LNURL of it', async () => {
    expect(await validatePaymentRequest(srv.addressOf('buyer'), { amountSats: 5_000 }, ctx)).toEqual({ valid: true, kind: 'lnurl' });
    const lnurl = encodeLnurl(`${srv.origin}/.well-known/lnurlp/buyer`);
    expect(await validatePaymentRequest(lnurl, {}, ctx)).toEqual({ valid: true, kind: 'lnurl' });
  });

  it('refuses an unknown user', async () => {
    expect(await validatePaymentRequest(srv.addressOf('nobody'), {}, ctx)).toEqual({ valid: false, rule: 'address_unreachable', reason: 'invalid_invoice' });
  });

  it('refuses a host that does not answer', async () => {
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    expect(await lnurlExists(`alice@127.0.0.1:${port}`, local)).toBe(false);
  });

  it('refuses an endpoint that is not a pay request', async () => {
    const other = http.createServer((_req, res) => res.end(JSON.stringify({ tag: 'withdrawRequest' })));
    await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
    const port = (other.address() as AddressInfo).port;
    try {
      expect(await lnurlExists(`alice@127.0.0.1:${port}`, local)).toBe(false);
    } finally {
      await new Promise<void>((r) => other.close(() => r()));
    }
  });
});

describe('SSRF guard', () => {
  it('classifies addresses', () => {
    for (const a of ['127.0.0.1', '10.1.2.3', '172.16.0.1', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '::1', 'fe80::1', 'fd00::1', '::ffff:127.0.0.1', '224.0.0.1']) {
      expect(isPrivateAddress(a), a).toBe(true);
    }
    for (const a of ['1.1.1.1', '8.8.8.8', '2606:4700:4700::1111', '::ffff:8.8.8.8']) expect(isPrivateAddress(a), a).toBe(false);
  });

  it('refuses loopback by IP literal and by name before sending anything', async () => {
    const before = srv.requests.length;
    const port = new URL(srv.origin).port;
    expect(await lnurlExists(`buyer@127.0.0.1:${port}`, { allowHttp: true })).toBe(false);
    expect(await lnurlExists(`buyer@localhost:${port}`, { allowHttp: true })).toBe(false);
    expect(await lnurlExists(encodeLnurl(`http://[::1]:${port}/.well-known/lnurlp/buyer`), { allowHttp: true })).toBe(false);
    await expect(resolveLnurlInvoice(`buyer@localhost:${port}`, 1_000, undefined, { allowHttp: true })).rejects.toThrow(/not a public address/);
    expect(srv.requests.length).toBe(before);
    // The same address works once private hosts are allowed: the refusal above was the guard, not the server.
    expect(await lnurlExists(`buyer@localhost:${port}`, local)).toBe(true);
  });

  it('refuses plain HTTP unless allowed', async () => {
    const before = srv.requests.length;
    const lnurl = encodeLnurl(`${srv.origin}/.well-known/lnurlp/buyer`);
    await expect(resolveLnurlInvoice(lnurl, 1_000, undefined, { allowPrivateHosts: true })).rejects.toThrow(/refusing http:/);
    expect(srv.requests.length).toBe(before);
  });

  it('follows redirects (each hop goes through the same guard) and caps them', async () => {
    const redirector = http.createServer((_req, res) => {
      res.writeHead(302, { location: `${srv.origin}/.well-known/lnurlp/buyer` });
      res.end();
    });
    await new Promise<void>((r) => redirector.listen(0, '127.0.0.1', r));
    const port = (redirector.address() as AddressInfo).port;
    try {
      expect(await lnurlExists(`x@127.0.0.1:${port}`, local)).toBe(true);
      const loop = http.createServer((req, res) => {
        res.writeHead(302, { location: req.url + 'x' });
        res.end();
      });
      await new Promise<void>((r) => loop.listen(0, '127.0.0.1', r));
      const lp = (loop.address() as AddressInfo).port;
      await expect(resolveLnurlInvoice(`x@127.0.0.1:${lp}`, 1_000, undefined, local)).rejects.toThrow(/too many redirects/);
      await new Promise<void>((r) => loop.close(() => r()));
    } finally {
      await new Promise<void>((r) => redirector.close(() => r()));
    }
  });
});

describe('resolving an invoice for an amount', () => {
  it('returns an invoice for exactly the amount, appending amount and comment to the callback query', async () => {
    const pr = await resolveLnurlInvoice(srv.addressOf('buyer'), 12_345, 'Mostro order 42 payout', local);
    const decoded = invoices.parsePaymentRequest({ request: pr });
    expect(decoded.tokens).toBe(12_345);
    expect(decoded.destination).toBe(net.node('buyer').pubkey);
    const cb = new URL(srv.requests.at(-1)!, srv.origin);
    expect(cb.searchParams.get('wallet')).toBe('buyer');
    expect(cb.searchParams.get('amount')).toBe('12345000');
    expect(cb.searchParams.get('comment')).toBe('Mostro ord'); // commentAllowed: 10
    expect(decoded.description_hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('checks what a payee hands back: the amount asked for, and the metadata it showed (LUD-06)', async () => {
    const metadata = JSON.stringify([['text/plain', 'hostile']]);
    let mode: 'amount' | 'metadata' | 'honest' = 'amount';
    const hostile = http.createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.pathname.startsWith('/.well-known/')) {
        return res.end(JSON.stringify({ tag: 'payRequest', callback: `http://127.0.0.1:${port}/cb`, minSendable: 1000, maxSendable: 1e9, metadata }));
      }
      const sats = Number(url.searchParams.get('amount')) / 1000;
      const descriptionHash = crypto.createHash('sha256').update(mode === 'metadata' ? 'other' : metadata).digest('hex');
      const pr = encodeBolt11({
        secretKey: crypto.randomBytes(32),
        network: 'regtest',
        hash: crypto.randomBytes(32).toString('hex'),
        sats: mode === 'amount' ? sats * 10 : sats,
        descriptionHash,
        createdAt: Math.floor(Date.now() / 1000),
        expirySecs: 7_200,
      });
      res.end(JSON.stringify({ pr }));
    });
    await new Promise<void>((r) => hostile.listen(0, '127.0.0.1', r));
    const port = (hostile.address() as AddressInfo).port;
    try {
      await expect(resolveLnurlInvoice(`x@127.0.0.1:${port}`, 1_000, undefined, local)).rejects.toThrow(/different amount/);
      mode = 'metadata';
      await expect(resolveLnurlInvoice(`x@127.0.0.1:${port}`, 1_000, undefined, local)).rejects.toThrow(/different metadata/);
      mode = 'honest';
      expect(invoices.parsePaymentRequest({ request: await resolveLnurlInvoice(`x@127.0.0.1:${port}`, 1_000, undefined, local) }).tokens).toBe(1_000);
    } finally {
      await new Promise<void>((r) => hostile.close(() => r()));
    }
  });

  it('refuses amounts outside the payee limits without calling back', async () => {
    const before = srv.requests.length;
    await expect(resolveLnurlInvoice(srv.addressOf('buyer'), 5, undefined, local)).rejects.toThrow(/outside the payee's limits/);
    await expect(resolveLnurlInvoice(srv.addressOf('buyer'), 60_000, undefined, local)).rejects.toThrow(/outside the payee's limits/);
    expect(srv.requests.length).toBe(before + 2); // the two metadata requests only
  });
});
