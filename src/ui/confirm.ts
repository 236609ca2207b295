// Asking only when someone can answer: on a terminal, ask; without one, refuse and name the flag.
import { createInterface } from "node:readline/promises";
import { NotConfirmedError } from "../errors.js";

export async function confirm(question: string, opts: { yes?: boolean; flag?: string; expect?: string }): Promise<void> {
  if (opts.yes) return;
  if (!process.stdin.isTTY || !process.stderr.isTTY || process.env.CI) {
    throw new NotConfirmedError(`${question.replace(/\?$/, "")} needs confirmation and there is no terminal to ask on`, {
      hint: `run again with ${opts.flag ?? "--yes"} to confirm`,
    });
  }
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const prompt = opts.expect ? `${question} Type '${opts.expect}' to confirm: ` : `${question} [y/N] `;
    const answer = (await rl.question(prompt)).trim();
    const ok = opts.expect ? answer === opts.expect : /^y(es)?$/i.test(answer);
    if (!ok) throw new NotConfirmedError("not confirmed; nothing was changed");
  } finally {
    rl.close();
  }
}
