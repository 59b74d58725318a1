/** `npm run temporal:dev` rejects bad flags with a message naming the flag, and prints its address when started. */
import { describe, expect, it } from 'vitest';
import { spawnTs } from '../../support/process.js';

const cli = 'packages/temporal-devserver/src/cli.ts';

describe('temporal:dev command line', () => {
  it.each([
    [['--port', 'abc'], /--port must be a port number, got "abc"/],
    [['--search-attribute', 'OrderStatus'], /--search-attribute expects Name=Type, got "OrderStatus"/],
    [['--search-attribute', 'OrderStatus=Colour'], /unknown search attribute type "Colour"/],
    [['--retention', '0'], /--retention must be a positive number of days/],
    [['--frobnicate'], /Unknown option '--frobnicate'/],
  ])('rejects %j', async (args, message) => {
    const p = spawnTs(cli, args);
    expect(await p.exited).toBe(2);
    expect(p.output()).toMatch(message);
  });

  it('prints its address and stops on SIGTERM', async () => {
    const p = spawnTs(cli, ['--port', '0', '--time-skipping']);
    expect(await p.line('address')).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(p.output()).toMatch(/time skipping \(auto\); in memory/);
    p.child.kill('SIGTERM');
    expect(await p.exited).toBe(0);
  });
});
