#!/usr/bin/env node
// `npx mostro …`: runs the TypeScript sources through tsx (the daemon ships as source).
import { register } from 'tsx/esm/api';

register();
await import('../src/main.ts');
