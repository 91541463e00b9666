/**
 * Asking before a destructive step: on a terminal, a yes/no question; anywhere else (CI, a pipe),
 * a refusal that says to pass --yes. Never a default yes.
 */
import * as readline from "readline";

export async function confirm(question: string, yes: boolean): Promise<void> {
  if (yes) return;
  if (!process.stdin.isTTY)
    throw new Error(`${question} Not confirmed: stdin is not a terminal; pass --yes to go ahead`);
  const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
  const answer = await new Promise<string>((resolve) => rl.question(`${question} [y/N] `, resolve));
  rl.close();
  if (!/^y(es)?$/i.test(answer.trim())) throw new Error("not confirmed; nothing was changed");
}
