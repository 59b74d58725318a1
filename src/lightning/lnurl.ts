/**
 * Lightning Address (LUD-16) and LNURL-pay (LUD-06) resolution, as the reference daemon does it: an address or
 * bech32 LNURL names an HTTPS endpoint whose JSON must carry `tag: "payRequest"`; paying N sats calls its callback
 * with `amount` (msat) and, per LUD-12, a comment when the service allows one, and reads back a BOLT11 `pr`.
 *
 * Every request passes the SSRF guard (ssrf.ts). Tests and a local dev setup may allow private hosts and plain HTTP
 * explicitly; production never does.
 */
import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';
import { bech32 } from '@scure/base';
import invoices, { type ParsedRequest } from 'invoices';
import { BlockedHostError, guardedLookup, isPrivateAddress } from './ssrf.js';

export interface LnurlOptions {
  /** Allow loopback/private targets (tests, a wallet on the same LAN in development). Never in production. */
  allowPrivateHosts?: boolean;
  /** Resolve Lightning Addresses over http:// instead of https:// (tests only). */
  allowHttp?: boolean;
  timeoutMs?: number;
  /** `user-agent` sent with every request. */
  userAgent?: string;
}

export class LnurlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LnurlError';
  }
}

const LIGHTNING_ADDRESS = /^([a-z0-9\-_.+]+)@([a-z0-9\-.]+(?::\d{1,5})?)$/i;

/** True for strings the daemon treats as a Lightning Address or LNURL rather than a BOLT11 invoice. */
export function isLnurlLike(value: string): boolean {
  return LIGHTNING_ADDRESS.test(value) || decodeLnurl(value) !== undefined;
}

function decodeLnurl(value: string): string | undefined {
  const text = value.toLowerCase().startsWith('lightning:') ? value.slice(10) : value;
  if (!text.toLowerCase().startsWith('lnurl1')) return undefined;
  try {
    const { prefix, words } = bech32.decode(text as `${string}1${string}`, 2000);
    if (prefix !== 'lnurl') return undefined;
    return new TextDecoder('utf-8', { fatal: true }).decode(bech32.fromWords(words));
  } catch {
    return undefined;
  }
}

/** Encodes a URL as a bech32 LNURL (upper-case, as wallets display it). */
export function encodeLnurl(url: string): string {
  return bech32.encode('lnurl', bech32.toWords(new TextEncoder().encode(url)), 2000).toUpperCase();
}

/** The LNURL-pay endpoint for an address or LNURL. */
export function lnurlEndpoint(address: string, opts: LnurlOptions = {}): URL {
  const decoded = decodeLnurl(address);
  if (decoded !== undefined) {
    try {
      return new URL(decoded);
    } catch {
      throw new LnurlError('LNURL does not contain a URL');
    }
  }
  const m = LIGHTNING_ADDRESS.exec(address);
  if (!m) throw new LnurlError('not a Lightning Address or LNURL');
  const scheme = opts.allowHttp ? 'http' : 'https';
  return new URL(`${scheme}://${m[2]!.toLowerCase()}/.well-known/lnurlp/${encodeURIComponent(m[1]!)}`);
}

const MAX_BODY = 64 * 1024;
const MAX_REDIRECTS = 3;

async function getJson(url: URL, opts: LnurlOptions, redirects = 0): Promise<Record<string, unknown>> {
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && opts.allowHttp)) {
    throw new LnurlError(`refusing ${url.protocol} URL`);
  }
  const host = url.hostname.replace(/^\[|\]$/g, '');
  // Sockets skip `lookup` for IP literals, so literals are vetted here.
  if (isIP(host) && !opts.allowPrivateHosts && isPrivateAddress(host)) throw new BlockedHostError(host);
  const client = url.protocol === 'https:' ? https : http;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
    const req = client.get(
      url,
      {
        lookup: guardedLookup(opts.allowPrivateHosts ?? false) as never,
        headers: { accept: 'application/json', 'user-agent': opts.userAgent ?? 'mostro-ts' },
        timeout: timeoutMs,
      },
      resolve,
    );
    req.on('timeout', () => req.destroy(new LnurlError(`no answer from ${url.host} within ${timeoutMs} ms`)));
    req.on('error', reject);
  });
  const status = res.statusCode ?? 0;
  if (status >= 300 && status < 400 && res.headers.location) {
    res.resume();
    if (redirects >= MAX_REDIRECTS) throw new LnurlError('too many redirects');
    return getJson(new URL(res.headers.location, url), opts, redirects + 1);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) {
      res.destroy();
      throw new LnurlError(`response from ${url.host} is too large`);
    }
    chunks.push(chunk);
  }
  if (status < 200 || status >= 300) throw new LnurlError(`${url.host} answered HTTP ${status}`);
  let body: unknown;
  try {
    body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new LnurlError(`${url.host} answered with malformed JSON`);
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new LnurlError(`${url.host} answered with a non-object`);
  }
  return body as Record<string, unknown>;
}

/** The existence check used when an address is submitted: the endpoint answers a LNURL-pay request. */
export async function lnurlExists(address: string, opts: LnurlOptions = {}): Promise<boolean> {
  try {
    const body = await getJson(lnurlEndpoint(address, opts), opts);
    return body.tag === 'payRequest';
  } catch {
    return false;
  }
}

/**
 * Asks the address's service for a BOLT11 invoice of `amountSats`. Fails (LnurlError) when the service is not a
 * pay endpoint, the amount is outside [minSendable, maxSendable], or no invoice comes back.
 */
export async function resolveLnurlInvoice(
  address: string,
  amountSats: number,
  comment: string | undefined,
  opts: LnurlOptions = {},
): Promise<string> {
  const params = await getJson(lnurlEndpoint(address, opts), opts);
  if (params.tag !== 'payRequest') throw new LnurlError('not a LNURL-pay endpoint');
  const msat = amountSats * 1000;
  const min = Number(params.minSendable ?? 0);
  const max = Number(params.maxSendable ?? 0);
  if (!(min <= msat && msat <= max)) throw new LnurlError(`amount ${amountSats} sats is outside the payee's limits`);
  if (typeof params.callback !== 'string') throw new LnurlError('LNURL-pay response has no callback');
  let callback: URL;
  try {
    callback = new URL(params.callback);
  } catch {
    throw new LnurlError('LNURL-pay callback is not a URL');
  }
  // Append as proper query parameters: callbacks often already carry a query (`?id=...`).
  callback.searchParams.append('amount', String(msat));
  const commentAllowed = Number(params.commentAllowed ?? 0);
  if (comment && commentAllowed > 0) callback.searchParams.append('comment', [...comment].slice(0, commentAllowed).join(''));
  const answer = await getJson(callback, opts);
  if (typeof answer.pr !== 'string' || answer.pr.length === 0) {
    throw new LnurlError(typeof answer.reason === 'string' ? `payee refused: ${answer.reason.slice(0, 200)}` : 'no invoice returned');
  }
  // LUD-06: the wallet checks the invoice is for the amount it asked for and commits to the metadata it was shown.
  let decoded: ParsedRequest;
  try {
    decoded = invoices.parsePaymentRequest({ request: answer.pr });
  } catch {
    throw new LnurlError('payee returned something that is not a BOLT11 invoice');
  }
  if (decoded.mtokens !== String(msat)) throw new LnurlError('payee returned an invoice for a different amount');
  if (decoded.description_hash !== undefined && typeof params.metadata === 'string') {
    const expected = bytesToHex(sha256(utf8ToBytes(params.metadata)));
    if (decoded.description_hash !== expected) throw new LnurlError('payee returned an invoice for different metadata');
  }
  return answer.pr;
}
