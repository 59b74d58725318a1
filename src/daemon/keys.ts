/**
 * The daemon's Nostr key and the secret its hold-invoice preimages derive from. The key comes from settings (or
 * MOSTRO_NSEC_PRIVKEY); without one, a key is generated on first start and kept in `<data dir>/mostro.nsec` (mode
 * 0600), so the daemon keeps its identity — and can still settle its hold invoices — across restarts.
 */
import fs from 'node:fs';
import path from 'node:path';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { utf8ToBytes } from '@noble/hashes/utils.js';
import { nip19 } from 'nostr-tools';
import { generateSecretKey } from 'nostr-tools/pure';
import { ConfigError, decodeSecretKey } from '../config/settings.js';

export const KEY_FILE = 'mostro.nsec';

export function daemonKey(configured: string | undefined, dataDir: string): { key: Uint8Array; source: 'settings' | 'generated' | 'data-dir' } {
  if (configured !== undefined) {
    const key = decodeSecretKey(configured);
    if (!key) throw new ConfigError(['[nostr] nsec_privkey: must be an nsec1… key or 64 hex characters']);
    return { key, source: 'settings' };
  }
  const file = path.join(dataDir, KEY_FILE);
  if (fs.existsSync(file)) {
    const key = decodeSecretKey(fs.readFileSync(file, 'utf8'));
    if (!key) throw new ConfigError([`[nostr] nsec_privkey: unset, so the key is read from ${file} — it does not hold an nsec1… key`]);
    return { key, source: 'data-dir' };
  }
  const key = generateSecretKey();
  fs.mkdirSync(dataDir, { recursive: true });
  fs.writeFileSync(file, `${nip19.nsecEncode(key)}\n`, { mode: 0o600, flag: 'wx' });
  return { key, source: 'generated' };
}

/**
 * Hold-invoice preimages derive from the daemon key (HKDF-SHA256), so every worker with the key can settle every
 * escrow, and no second secret has to be distributed, backed up or kept in sync.
 */
export function preimageSecretOf(key: Uint8Array): Uint8Array {
  return hkdf(sha256, key, utf8ToBytes('mostro-temporal'), utf8ToBytes('hold-invoice-preimages'), 32);
}
