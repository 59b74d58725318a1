/**
 * The one sanctioned way to read the clock in workflow code. Inside Temporal's sandbox `Date` is replaced by the
 * time of the current workflow task, so this is deterministic on replay; calling it through this helper keeps time
 * math explicit and lets the linter forbid `Date.now()` everywhere else under src/workflows.
 */
export function workflowNow(): number {
  // eslint-disable-next-line no-restricted-properties -- the sandboxed Date is the workflow clock
  return Date.now();
}
