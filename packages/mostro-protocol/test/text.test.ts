/** Text the daemon refuses to keep: NUL and lone surrogates, found anywhere in a message payload, by path. */
import { describe, expect, it } from 'vitest';
import { isStorableText, unstorableTextAt } from '../src/text.js';

describe('storable text', () => {
  it('accepts ordinary text, emoji (surrogate pairs) and the empty string', () => {
    for (const s of ['', 'face to face,bank transfer', 'Zelle 💸', 'año', '\u2028']) expect(isStorableText(s)).toBe(true);
  });
  it('refuses NUL and lone surrogates, high or low', () => {
    for (const s of ['a\u0000b', '\u0000', 'x\ud800', '\udc00y', '\ud800\ud800\udc00'.slice(0, 1)]) expect(isStorableText(s)).toBe(false);
  });
  it('names where in a payload the first such text is', () => {
    expect(unstorableTextAt({ order: { payment_method: 'cash', fiat_code: 'USD' } })).toBeNull();
    expect(unstorableTextAt({ order: { payment_method: 'cash\u0000' } })).toBe('order.payment_method');
    expect(unstorableTextAt({ next_trade: ['ab\u0000', 2] })).toBe('next_trade.0');
    expect(unstorableTextAt({ ['k\u0000']: 1 })).toBe('(key)');
    expect(unstorableTextAt(null)).toBeNull();
    expect(unstorableTextAt(42)).toBeNull();
  });
});
