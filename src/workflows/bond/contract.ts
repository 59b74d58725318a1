/**
 * The contract between the ingress and bond payout workflows: ids, the type name and the winner's invoice signal.
 * Imported by workflow code and the ingress alike, so it holds no I/O.
 */
import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { InboundMessage } from '../../domain/messages.js';
import type { BondPayout } from '../../domain/bond.js';
export const BOND_PAYOUT_WORKFLOW_TYPE = 'bondPayoutWorkflow';
export const bondPayoutWorkflowId = (bondId: string): string => `bond-payout-${bondId}`;

/** The winner's `add-bond-invoice`, as the ingress hands it over. */
export const addBondInvoiceSignal = defineSignal<[InboundMessage]>('add-bond-invoice');
export const getPayoutQuery = defineQuery<BondPayout>('getPayout');
