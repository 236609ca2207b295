// Running kubesmith in-process with the operator commands registered (whether or not the lead has wired
// them into src/commands/index.ts yet), collecting stdout/stderr and the exit code main() would return.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Command } from "commander";
import { buildProgram, report, type CliIo } from "../../src/cli/main.js";
import { registerCompletionCommand } from "../../src/commands/completion.js";
import { registerKubeconfigCommand } from "../../src/commands/kubeconfig.js";
import { registerLogsCommand } from "../../src/commands/logs.js";
import { registerStatusCommand } from "../../src/commands/status.js";

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function program(io: CliIo): Command {
  const p = buildProgram(io);
  const has = (n: string) => p.commands.some((c) => c.name() === n);
  const add: [string, (p: Command, io: CliIo) => void][] = [
    ["logs", registerLogsCommand],
    ["status", registerStatusCommand],
    ["kubeconfig", registerKubeconfigCommand],
    ["completion", registerCompletionCommand],
  ];
  for (const [n, reg] of add) {
    if (has(n)) continue;
    reg(p, io);
    const sub = p.commands.find((c) => c.name() === n)!;
    sub.configureOutput({ writeOut: io.stdout, writeErr: io.stderr, outputError: () => {} }).exitOverride();
  }
  return p;
}

export async function cli(args: string[]): Promise<CliResult> {
  let stdout = "";
  let stderr = "";
  const io: CliIo = { stdout: (s) => void (stdout += s), stderr: (s) => void (stderr += s) };
  try {
    await program(io).parseAsync(args, { from: "user" });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const code = report(err, io, false);
    return { code, stdout, stderr };
  }
}

/** A minimal valid inventory in a fresh directory (addresses in a documentation range: nothing is contacted). */
export function tinyInventory(name = "tiny"): { dir: string; file: string } {
  const dir = mkdtempSync(join(tmpdir(), "ks-cmd-"));
  const file = join(dir, "inventory.yaml");
  writeFileSync(
    file,
    `cluster:\n  name: ${name}\n  kubernetesVersion: "1.36"\nssh:\n  user: root\n  identityFile: ./id\nhosts:\n  - name: cp1\n    address: 203.0.113.10\n    roles: [control-plane]\n  - name: w1\n    address: 203.0.113.11\n    roles: [worker]\n`,
  );
  writeFileSync(join(dir, "id"), "not a key\n", { mode: 0o600 });
  return { dir, file };
}
