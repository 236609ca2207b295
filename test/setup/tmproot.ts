// One temporary directory for the whole test run (globalSetup: the main process, before the workers start);
// each test file's TMPDIR is made inside it (setup/tmpdir.ts), and it goes when the run ends, with whatever
// a file left (a skipped file's hooks do not run).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export default function setup(): () => void {
  const root = mkdtempSync(join(tmpdir(), "kubesmith-tests-"));
  process.env.KUBESMITH_TEST_TMPDIR_OUTER = root;
  return () => {
    try {
      rmSync(root, { recursive: true, force: true, maxRetries: 3 });
    } catch {
      // best effort
    }
  };
}
