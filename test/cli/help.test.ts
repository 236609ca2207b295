// The user-facing surface that must not move when the command modules are reorganised: `--help` of the
// program and of every command and subcommand, and the completion scripts generated from the same tree.
// A deliberate change of a command's text or options updates the snapshots:
//   npx vitest run test/cli/help.test.ts -u   (and the diff of __snapshots__/help.test.ts.snap is reviewed)
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Command } from "commander";
import { buildProgram, main, type CliIo } from "../../src/cli/main.js";

/** Every command path of the real program, the root first ([] is the program itself). */
function commandPaths(): string[][] {
  const paths: string[][] = [[]];
  const walk = (cmd: Command, prefix: string[]) => {
    for (const sub of cmd.commands) {
      const p = [...prefix, sub.name()];
      paths.push(p);
      walk(sub, p);
    }
  };
  walk(buildProgram({ stdout: () => {}, stderr: () => {} }), []);
  return paths;
}

async function run(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const io: CliIo = { stdout: (s) => void (stdout += s), stderr: (s) => void (stderr += s) };
  const code = await main(argv, io);
  return { code, stdout, stderr };
}

describe("help output", () => {
  const paths = commandPaths();
  // commander wraps help at the terminal's width when stdout is one; the snapshots are at its default (80).
  const wasTTY = process.stdout.isTTY;
  beforeAll(() => void (process.stdout.isTTY = false));
  afterAll(() => void (process.stdout.isTTY = wasTTY));

  it("covers a real tree (commands and subcommands)", () => {
    expect(paths.length).toBeGreaterThan(20);
    expect(paths.some((p) => p.length === 2)).toBe(true);
  });

  for (const p of paths) {
    it(`kubesmith ${[...p, "--help"].join(" ")}`, async () => {
      const r = await run([...p, "--help"]);
      expect(r.code).toBe(0);
      expect(r.stderr).toBe("");
      expect(r.stdout).toMatchSnapshot();
    });
  }

  for (const shell of ["bash", "zsh", "fish"]) {
    it(`kubesmith completion ${shell}`, async () => {
      const r = await run(["completion", shell]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatchSnapshot();
    });
  }
});
