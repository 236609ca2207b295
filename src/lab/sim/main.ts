// The node simulator: one program behind every simulated tool on a lab host's PATH.
//   main.js <tool> [args…], with KUBESIM_LAB_DIR set: one command in this process (a Node start per command;
//     the shims fall back to it, and use it always with KUBESIM_RESIDENT=0 at lab up).
//   main.js --resident <lab dir>: the resident simulator of this host (resident.ts), started by the first
//     client shim that finds none listening.
// The command itself (faults, command log, tools) is command.ts.
import nodeModule from "node:module";

// A fresh Node process: load only the tool that runs (the YAML parser and kubeadm's certificate code cost
// more than the command itself), and on Node 22+ reuse compiled code.
(nodeModule as { enableCompileCache?: () => unknown }).enableCompileCache?.();

const [first, ...rest] = process.argv.slice(2);
if (first === "--resident") {
  const { serveResident } = await import("./resident.js");
  await serveResident(rest[0] ?? process.env.KUBESIM_LAB_DIR ?? "");
} else {
  const { runCommand } = await import("./command.js");
  runCommand({ argv: [first ?? "", ...rest], env: process.env, uid: process.getuid?.() ?? 0, stdio: [0, 1, 2] }).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`kubesim: ${String(e)}\n`);
      process.exitCode = 70;
    },
  );
}
