// Runs once before the whole test run (vitest globalSetup): lists every external program a test needs
// (the one list in src/lab/requirements.ts). Under CI a missing program fails the run at once, naming the
// program and its package, so no test can pass only because something was installed by hand on one
// machine. Elsewhere the tests that need it are skipped, and this says so where everyone sees it.
import { describeMissing, missingPrograms, packagesFor } from "../../src/lab/requirements.js";

export default function setup(): void {
  const missing = missingPrograms(["lab", "tests"]);
  if (!missing.length) return;
  const pkgs = packagesFor(missing).join(" ");
  if (process.env.CI) {
    throw new Error(
      `CI is set and the tests need programs this machine lacks: ${describeMissing(missing)}. ` +
        `.ci/run must install them (npx kubesmith lab setup --tests, i.e. apt-get install ${pkgs})`,
    );
  }
  const lines = [
    `kubesmith tests: ${missing.length} program(s) missing, the tests that need them are SKIPPED:`,
    ...missing.map((p) => `  - ${p.name} (package ${p.pkg}): ${p.why}`),
    `  install them with: sudo npx kubesmith lab setup --tests   (apt-get install ${pkgs})`,
  ];
  process.stderr.write(`\n${lines.join("\n")}\n\n`);
}
