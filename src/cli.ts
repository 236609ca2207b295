#!/usr/bin/env -S node --max-semi-space-size=1 --optimize-for-size --no-opt
// The flags: V8's young generation grows to 2 × 16 MiB by default, and up kept ≈ 27 MiB of it resident
// while ≈ 12 MiB was in use; small semi-spaces hold `up`'s peak RSS near 100 MiB for ≈ 5 % more CPU. With
// every host at once, the old generation grew in large steps ahead of use: --optimize-for-size (V8 grows
// the heap by smaller factors) took a converged 200-host `up` from 151–192 to 120–123 MiB at the same
// wall time (issue 12, docs/performance.md). --no-opt: no optimizing compiler (TurboFan). kubesmith's code is
// short-lived or waits on the network; optimized code was ≈ 4 % of a 200-host `up`'s samples and compiling
// it cost more: converged 200-host `up` 3.4 → 2.8–3.1 s of kubesmith's CPU and 120 → 110 MiB, `inventory
// validate` ≈ 14 ms less. `env -S` splits the line (GNU coreutils ≥ 8.30, BSD and macOS env).
import { ExitCode } from "./errors.js";
import { guardPipes, main } from "./cli/main.js";

guardPipes();
const code = await main(process.argv.slice(2));
process.exitCode = code;
// An interrupted run has ended cleanly; work it left behind (a wait on the API) must not keep the process.
if (code === ExitCode.Aborted) process.exit(code);
