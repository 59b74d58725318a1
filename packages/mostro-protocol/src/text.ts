/**
 * Text a message may carry but the daemon cannot keep: PostgreSQL refuses NUL in text (SQLSTATE 22021), and a lone
 * UTF-16 surrogate (`"\ud800"` is valid JSON) has no UTF-8 encoding — the driver would store U+FFFD instead, a silent
 * change of what the user sent. Such a message is refused where it enters, before anything about a trade changes.
 * Pure; used by the ingress and, as a second line, by the order workflow.
 */

/** The path (`order.payment_method`, `next_trade.0`) of the first string in `value` that cannot be stored, or null. */
export function unstorableTextAt(value: unknown, path = ''): string | null {
  if (typeof value === 'string') return isStorableText(value) ? null : path || '(root)';
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const at = unstorableTextAt(value[i], path ? `${path}.${i}` : String(i));
      if (at !== null) return at;
    }
    return null;
  }
  if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (!isStorableText(k)) return path ? `${path}.(key)` : '(key)';
      const at = unstorableTextAt(v, path ? `${path}.${k}` : k);
      if (at !== null) return at;
    }
  }
  return null;
}

/** NUL, or a high surrogate not followed by a low one, or a low one not preceded by a high one. */
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export function isStorableText(s: string): boolean {
  return !UNSTORABLE.test(s);
}
