/** The structured logger every long-running part takes (the embedded server, the ingress, the relay pool). */
export interface Logger {
  debug(msg: string, extra?: Record<string, unknown>): void;
  info(msg: string, extra?: Record<string, unknown>): void;
  warn(msg: string, extra?: Record<string, unknown>): void;
  error(msg: string, extra?: Record<string, unknown>): void;
}

/**
 * Keys whose values are secrets wherever they appear in a log record (nested one or two levels deep too): the
 * daemon's nsec, preimages, macaroons, LND credentials, database URLs with passwords, API keys.
 */
export const SECRET_KEYS = ['nsec', 'nsec_privkey', 'secret', 'secretKey', 'preimage', 'macaroon', 'cert', 'password', 'apiKey', 'api_key', 'url_with_credentials', 'mostroKey', 'preimageSecret'];

/** Scrubs secrets that can hide inside free text: bech32 private keys and credentials in database URLs. */
export const scrub = (v: string): string =>
  v.replace(/nsec1[02-9ac-hj-np-z]{20,}/g, '[redacted]').replace(/(postgres(?:ql)?:\/\/)[^@/\s]*@/g, '$1[credentials]@');

/** Removes secrets from a log record's extra fields; secrets under any {@link SECRET_KEYS} name are replaced. */
export function redact(extra: Record<string, unknown> | undefined, depth = 0): Record<string, unknown> | undefined {
  if (!extra) return extra;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(extra)) {
    if (SECRET_KEYS.includes(k)) out[k] = '[redacted]';
    else if (typeof v === 'string') out[k] = scrub(v);
    else if (v && typeof v === 'object' && !Array.isArray(v) && depth < 2) out[k] = redact(v as Record<string, unknown>, depth + 1);
    else out[k] = v;
  }
  return out;
}
