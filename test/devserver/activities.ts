import { Context } from '@temporalio/activity';

export async function flaky(name: string): Promise<string> {
  const attempt = Context.current().info.attempt;
  if (attempt < 2) throw new Error(`transient failure on attempt ${attempt}`);
  return `hello ${name} (attempt ${attempt})`;
}

export async function echo(s: string): Promise<string> {
  return s;
}
