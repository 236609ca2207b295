import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Lab tests create network namespaces; they run in separate files with distinct lab names.
    fileParallelism: true,
    pool: "forks",
  },
});
