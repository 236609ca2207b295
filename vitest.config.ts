import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Lists the external programs the tests call; under CI a missing one fails the run (naming its package).
    globalSetup: ["test/setup/requirements.ts", "test/setup/tmproot.ts"],
    // Each test file's scratch directories live in a TMPDIR of its own, removed when the file ends.
    setupFiles: ["test/setup/tmpdir.ts"],
    // Lab tests wait on simulated commands that each start a Node process: on a 2-core machine running four
    // test files at once the heaviest lab tests take 40–60 s (steps.test's prepare OS: 42 s in a CI run, and
    // over 60 s on Node 24 with other work on the machine). The bound is for hangs, not a speed check.
    testTimeout: 180_000,
    hookTimeout: 120_000,
    // Lab tests create network namespaces; they run in separate files with distinct lab names.
    fileParallelism: true,
    pool: "forks",
    // Most test time is spent waiting on lab hosts (sshd, the simulators), not on this process: more files
    // at once than the 2 cores of CI machines keeps the suite well inside CI's time budget.
    maxWorkers: 4,
  },
});
