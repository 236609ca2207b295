#!/usr/bin/env node
import { ExitCode } from "./errors.js";
import { guardPipes, main } from "./cli/main.js";

guardPipes();
const code = await main(process.argv.slice(2));
process.exitCode = code;
// An interrupted run has ended cleanly; work it left behind (a wait on the API) must not keep the process.
if (code === ExitCode.Aborted) process.exit(code);
