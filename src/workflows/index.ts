/**
 * Workflow definitions registered on the daemon's worker. Everything here runs inside Temporal's deterministic
 * sandbox: no I/O, clocks or randomness except through the workflow API (enforced by the lint rules).
 */
export { selfCheckWorkflow } from './self-check.js';
export { orderWorkflow } from './order/workflow.js';
export { bondPayoutWorkflow } from './bond/payout-workflow.js';
