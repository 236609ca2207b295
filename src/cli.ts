#!/usr/bin/env -S node --max-semi-space-size=2
// The flag: V8's young generation grows to 2 × 16 MiB by default, and up kept ≈ 27 MiB of it resident
// while ≈ 12 MiB was in use; 2 MiB semi-spaces hold `up`'s peak RSS near 100 MiB for ≈ 5 % more CPU
// (issue 12, docs/performance.md). `env -S` splits the line (GNU coreutils ≥ 8.30, BSD and macOS env).
import { ExitCode } from "./errors.js";
import { guardPipes, main } from "./cli/main.js";

guardPipes();
const code = await main(process.argv.slice(2));
process.exitCode = code;
// An interrupted run has ended cleanly; work it left behind (a wait on the API) must not keep the process.
if (code === ExitCode.Aborted) process.exit(code);
