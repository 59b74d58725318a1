/** Disputes as the database and the order workflow share them. */
import type { OrderStatus } from '@mostro/protocol/schema';

export interface OpenedDispute {
  id: string;
  orderId: string;
  initiator: 'buyer' | 'seller';
  previousStatus: OrderStatus;
  createdAt: number;
}

/** Who is asking, as the database knows them: the admin (the daemon's own key as identity), a solver, or nobody. */
export type DisputeRole = { role: 'admin' } | { role: 'solver'; category: number } | { role: 'none' };
