/** `COUNT_PROMISES=1 npm run bench:replay`: how many promises a trade creates inside the workflow sandbox (each costs the SDK's stack-trace hook), and where. */
import v8 from 'node:v8';
export const counts = { sandbox: 0, outer: 0 };
export const sites = new Map<string, number>();
v8.promiseHooks.onInit((p: Promise<unknown>) => {
  if (p.constructor === Promise) { counts.outer++; return; }
  counts.sandbox++;
  const lim = Error.stackTraceLimit; Error.stackTraceLimit = 14;
  const st = (new Error().stack ?? '').split('\n').slice(2).map((l) => l.trim().replace(/^at /, '').replace(/\(.*workflow-bundle[^:]*:(\d+):\d+\)/, '@$1').replace(/\(.*node_modules\/(.*)\)/, '[$1]'));
  Error.stackTraceLimit = lim;
  const ours = st.filter((l) => l.includes('@')).slice(0, 3).join(' < ');
  sites.set(ours, (sites.get(ours) ?? 0) + 1);
});
