/**
 * Setup file of the `real-temporal` project: points the test helpers at the real server the global setup started
 * (before any test module reads TEMPORAL_ADDRESS). Each test file runs in a process of its own (pool: forks).
 */
import { inject } from 'vitest';

process.env.TEMPORAL_ADDRESS = inject('temporalAddress');
process.env.TEMPORAL_UI_URL = inject('temporalUiUrl');
