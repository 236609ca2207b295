// Each test file gets a temporary directory of its own as TMPDIR (os.tmpdir()), removed when the file ends
// (inside the run's own directory, setup/tmproot.ts, which goes at the end of the run in any case):
// the tests make scratch directories with mkdtemp(tmpdir()) and many do not remove them (hundreds were left
// in /tmp on a developer machine after a day of runs). Processes the file starts inherit it (the CLI, the
// lab's API simulator); a lab host's /tmp is its own tmpfs either way. Registered before the file's own
// hooks, so its afterAll runs after theirs (labs are down by then).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll } from "vitest";

const outer = process.env.KUBESMITH_TEST_TMPDIR_OUTER ?? tmpdir();
process.env.KUBESMITH_TEST_TMPDIR_OUTER = outer;
const dir = mkdtempSync(join(outer, "kubesmith-test-"));
process.env.TMPDIR = dir;

afterAll(() => {
  process.env.TMPDIR = outer;
  try {
    rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
  } catch {
    // best effort: a process the file started may still be writing there
  }
});
