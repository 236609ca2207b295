// Which tests can run here. Under CI every program is present or the run has already failed in
// test/setup/requirements.ts, so these only ever skip on a developer's machine.
import { findProgram, PROGRAMS } from "../../src/lab/requirements.js";

/** The absolute path of a program from the requirements list (or any program), or undefined. */
export function programPath(name: string): string | undefined {
  const p = PROGRAMS.find((x) => x.name === name);
  return findProgram(name, p?.paths);
}

/** Undefined when every program is here; otherwise a reason for a test title, e.g. "(skipped: nft is not installed)". */
export function missingReason(...names: string[]): string | undefined {
  const missing = names.filter((n) => !programPath(n));
  if (!missing.length) return undefined;
  const pkgs = missing.map((n) => PROGRAMS.find((x) => x.name === n)?.pkg ?? n);
  return `(skipped: ${missing.join(", ")} not installed; sudo npx kubesmith lab setup --tests installs ${[...new Set(pkgs)].join(" ")})`;
}
