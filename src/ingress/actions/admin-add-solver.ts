/**
 * `admin-add-solver` (§24.2; MostroP2P/mostro `src/app/admin_add_solver.rs`): the admin — whoever signs with the
 * daemon's own key as identity — appoints a solver. Payload `{"text_message":"npub1…[:read|:write|:read-write]"}`;
 * no suffix or `:write` / `:read-write` → read-write (category 2), `:read` → read-only (1). Anyone else gets no answer
 * (upstream treats it as an internal error). A malformed npub is answered `invalid_text_message` (upstream fails
 * without a reply; a clear answer helps the admin and reveals nothing to anyone else).
 */
import { nip19 } from 'nostr-tools';
import type { Db } from '../../db/database.js';
import { message } from '@mostro/protocol';
import { CantDoError, type ActionHandler } from '../dispatch.js';

export const SOLVER_READ = 1;
export const SOLVER_READ_WRITE = 2;

/** `npub1…[:suffix]` → hex pubkey and category; a CantDoError reason when it is not one. */
export function parseSolver(text: string): { pubkey: string; category: number } {
  const colon = text.indexOf(':');
  const [npub, suffix] = colon < 0 ? [text, undefined] : [text.slice(0, colon), text.slice(colon + 1)];
  const category = suffix === undefined || suffix === 'write' || suffix === 'read-write' ? SOLVER_READ_WRITE : suffix === 'read' ? SOLVER_READ : null;
  if (category === null) throw new CantDoError('invalid_parameters');
  let pubkey: string;
  try {
    const d = nip19.decode(npub.trim());
    if (d.type !== 'npub') throw new Error('not an npub');
    pubkey = d.data;
  } catch {
    throw new CantDoError('invalid_text_message');
  }
  return { pubkey, category };
}

export function adminAddSolverHandler(db: Db, mostroPubkey: string, now = () => Math.floor(Date.now() / 1000)): ActionHandler {
  return async ({ unwrapped, kind }, io) => {
    if (unwrapped.identity !== mostroPubkey) return;
    const p = kind.payload;
    if (!p || !('text_message' in p) || !p.text_message.trim()) throw new CantDoError('invalid_text_message');
    const { pubkey, category } = parseSolver(p.text_message.trim());
    await db.user.upsert({
      where: { pubkey },
      create: { pubkey, isSolver: true, category, createdAt: BigInt(now()) },
      update: { isSolver: true, category, version: { increment: 1 } },
    });
    await io.reply(unwrapped.sender, message({ wrapper: 'dispute', action: 'admin-add-solver', request_id: kind.request_id, trade_index: null }));
  };
}
