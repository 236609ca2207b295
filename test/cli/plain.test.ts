// --plain (issue 13 §4 "Output") on every command that can draw a live view or colour, with one meaning:
// plain lines instead of listr2's live view, also on a terminal. The commands with a progress output
// (`-o plain|json`: they run phases through runCluster) and `init` (whose --up runs up) are found in the
// real program tree; each must accept --plain, and on a (pretended) terminal with --plain its progress
// goes to the CLI's output as plain lines (the live view would draw on the terminal itself instead).
import { createHash } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Command, Option } from "commander";
import { buildProgram, main, type CliIo } from "../../src/cli/main.js";

/** Every command path with its options, the root's subcommands first. */
function commands(): { path: string[]; options: Option[] }[] {
  const out: { path: string[]; options: Option[] }[] = [];
  const walk = (cmd: Command, prefix: string[]) => {
    for (const sub of cmd.commands) {
      const p = [...prefix, sub.name()];
      out.push({ path: p, options: sub.options as Option[] });
      walk(sub, p);
    }
  };
  walk(buildProgram({ stdout: () => {}, stderr: () => {} }), []);
  return out;
}

/** A command with a progress output: -o/--output offering plain and json (the run's events). */
const hasProgress = (options: Option[]) =>
  options.some((o) => o.long === "--output" && ["plain", "json"].every((c) => ((o as Option & { argChoices?: string[] }).argChoices ?? []).includes(c)));

/** The commands that can draw a live view: every one with a progress output, and init (its --up runs up). */
const LIVE = ["up", "plan", "down", "rebuild", "addons diff", "addons apply", "addons remove", "init", "upgrade", "remove-node", "certs renew", "etcd backup", "etcd restore"];
/** Commands that run phases (so can draw the live view) without a progress -o (etcd's -o is a file). */
const NO_PROGRESS_OUTPUT = ["init", "etcd backup", "etcd restore"];

describe("--plain", () => {
  const all = commands();

  it("every command with a progress output, and init, has --plain with the same meaning", () => {
    const live = all.filter((c) => hasProgress(c.options) || NO_PROGRESS_OUTPUT.includes(c.path.join(" "))).map((c) => c.path.join(" "));
    expect(live.sort()).toEqual([...LIVE].sort());
    for (const c of all.filter((x) => LIVE.includes(x.path.join(" ")))) {
      const plain = c.options.find((o) => o.long === "--plain");
      expect(plain, c.path.join(" ")).toBeDefined();
      expect(plain!.description, c.path.join(" ")).toMatch(/no spinners or colour \(also when not a terminal or CI is set\)$/);
    }
  });

  describe("on a terminal, --plain prints plain lines through the CLI's output", () => {
    let dir = "";
    let inv = "";
    const saved = { isTTY: process.stdout.isTTY, CI: process.env.CI, TERM: process.env.TERM };
    beforeAll(() => {
      // what a person at a terminal has: a TTY, no CI, a real TERM
      process.stdout.isTTY = true;
      delete process.env.CI;
      process.env.TERM = "xterm-256color";
      dir = mkdtempSync(join(tmpdir(), "ks-plain-"));
      inv = join(dir, "inventory.yaml");
      // addresses in a documentation range and a key that does not parse: the run stops at its first
      // connection; Calico's compact manifest, so nothing is downloaded
      writeFileSync(inv, `cluster:\n  name: plainly\n  kubernetesVersion: "1.36"\nssh:\n  user: root\n  identityFile: ./id\nhosts:\n  - name: cp1\n    address: 203.0.113.10\n    roles: [control-plane]\naddons:\n  calico:\n    values:\n      manifest: compact\n`);
      writeFileSync(join(dir, "id"), "not a key\n", { mode: 0o600 });
      // a snapshot with its checksum file, so restore gets past its local checks to the first connection
      writeFileSync(join(dir, "snap.db"), "not really etcd\n");
      writeFileSync(join(dir, "snap.db.sha256"), `${createHash("sha256").update("not really etcd\n").digest("hex")}  snap.db\n`);
      writeFileSync(
        join(dir, "answers.yaml"),
        `name: plainly\nkubernetesVersion: "1.36"\nssh:\n  user: root\n  identityFile: ${join(dir, "id")}\nhosts:\n  - name: cp1\n    address: 203.0.113.10\n    roles: [control-plane]\naddons: []\n`,
      );
    });
    afterAll(() => {
      process.stdout.isTTY = saved.isTTY;
      for (const k of ["CI", "TERM"] as const) {
        if (saved[k] === undefined) delete process.env[k];
        else process.env[k] = saved[k];
      }
    });

    const argv: Record<string, () => string[]> = {
      up: () => ["up", "-i", inv],
      plan: () => ["plan", "-i", inv],
      down: () => ["down", "-i", inv, "--yes"],
      rebuild: () => ["rebuild", "-i", inv, "--yes"],
      "addons diff": () => ["addons", "diff", "-i", inv],
      "addons apply": () => ["addons", "apply", "-i", inv],
      "addons remove": () => ["addons", "remove", "grafana", "-i", inv, "--yes"],
      upgrade: () => ["upgrade", "-i", inv, "--yes"],
      "remove-node": () => ["remove-node", "-i", inv, "w9", "--yes"],
      "certs renew": () => ["certs", "renew", "-i", inv, "--yes"],
      "etcd backup": () => ["etcd", "backup", "-i", inv],
      "etcd restore": () => ["etcd", "restore", "-i", inv, join(dir, "snap.db"), "--yes"],
      init: () => ["init", "--answers", join(dir, "answers.yaml"), "--no-probe", "-o", join(dir, `init-${Date.now()}.yaml`), "--up"],
    };
    for (const name of LIVE) {
      it(name, async () => {
        let stdout = "";
        let stderr = "";
        const io: CliIo = { stdout: (s) => void (stdout += s), stderr: (s) => void (stderr += s) };
        const code = await main([...argv[name]!(), "--plain"], io);
        expect(code, stderr).toBe(5); // the flag is known: the run got as far as the key file
        // the plain reporter's first line, written to the CLI's stdout (the live view writes to the terminal)
        expect(stdout, stderr).toMatch(/^(up|plan|down|addons (diff|apply|remove)|upgrade|remove-node|certs renew|etcd (backup|restore)) plainly( \(dry run: nothing is changed\))?$/m);
      }, 60_000);
    }
  });
});
