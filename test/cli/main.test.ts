import { describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { ExitCode, HostKeyError, InventoryError } from "../../src/errors.js";
import { report } from "../../src/cli/main.js";
import { CommandError, UsageError } from "../../src/errors.js";
import { FanOut, MemoryReporter } from "../../src/ui/events.js";
import { runSecrets, SecretList } from "../../src/util/secrets.js";

function io() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { stdout: (s: string) => void out.push(s), stderr: (s: string) => void err.push(s) }, out, err };
}

describe("the run's secrets", () => {
  it("the final error line is redacted from the run's list, whatever error carries the secret", () => {
    runSecrets.add("pw-77c1a9");
    const t = io();
    report(new UsageError("cannot use pw-77c1a9 here", { hint: "not pw-77c1a9" }), t.io, false);
    expect(t.err.join("")).not.toContain("pw-77c1a9");
    expect(t.err.join("")).toMatch(/^kubesmith: cannot use \*\*\* here/);
    // A CommandError built outside the SSH runner (a step's check) is redacted when it is made.
    const e = new CommandError("h", "printf pw-77c1a9", 1, "x pw-77c1a9", "step");
    expect([e.message, e.command, e.stderr]).toEqual(["h: step failed with exit code 1: x ***", "printf ***", "x ***"]);
  });

  it("events are redacted before any reporter sees them (journal, outputs, report)", () => {
    const seen = new MemoryReporter();
    const out = new FanOut([seen], new SecretList().add("s3-d4e5"));
    out.emit({ kind: "warning", host: "a", message: "token s3-d4e5 rejected" });
    out.emit({ kind: "host-step", phase: "p", host: "a", status: "failed", detail: "['s3-d4e5']" });
    expect(JSON.stringify(seen.events)).not.toContain("s3-d4e5");
    expect(seen.of("warning")[0]?.message).toBe("token *** rejected");
  });
});

describe("cli", () => {
  it("prints help listing the subcommands, exit 0", async () => {
    const t = io();
    expect(await main(["--help"], t.io)).toBe(0);
    const help = t.out.join("");
    for (const c of ["check", "inventory", "lab"]) expect(help).toMatch(new RegExp(`^\\s+${c}\\b`, "m"));
  });

  it("prints the package version", async () => {
    const t = io();
    expect(await main(["--version"], t.io)).toBe(0);
    expect(t.out.join("").trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it("an unknown command is a usage error with a suggestion, exit 2, one line", async () => {
    const t = io();
    expect(await main(["chek"], t.io)).toBe(ExitCode.Usage);
    const e = t.err.join("");
    expect(e).toMatch(/^kubesmith: unknown command 'chek'.*check/);
    expect(e.trim().split("\n")).toHaveLength(1);
  });

  it("a bad option value is a usage error", async () => {
    const t = io();
    expect(await main(["check", "--output", "xml"], t.io)).toBe(ExitCode.Usage);
    expect(t.err.join("")).toMatch(/xml/);
  });

  it("typed errors become one line and their own exit code; no stack without --debug", () => {
    const t = io();
    const code = report(new HostKeyError("cp1", "host key changed", { hint: "check the machine" }), t.io, false);
    expect(code).toBe(ExitCode.HostKey);
    expect(t.err.join("")).toBe("kubesmith: cp1: host key changed (check the machine)\n");
    const t2 = io();
    report(new InventoryError([{ file: "inv.yaml", line: 3, column: 5, path: "hosts[0].address", message: "bad" }]), t2.io, false);
    expect(t2.err.join("")).toBe("kubesmith: inv.yaml:3:5: hosts[0].address: bad\n");
  });

  it("unexpected errors exit 1 and show the stack only with --debug", () => {
    const t = io();
    expect(report(new TypeError("boom"), t.io, false)).toBe(ExitCode.Internal);
    expect(t.err.join("")).not.toMatch(/at .*\.ts/);
    const t2 = io();
    report(new TypeError("boom"), t2.io, true);
    expect(t2.err.join("")).toMatch(/TypeError: boom\n\s+at /);
  });

  it("a missing inventory is an inventory error naming the file", async () => {
    const t = io();
    const code = await main(["check", "-i", "/nonexistent/inv.yaml"], t.io);
    expect(code).toBe(ExitCode.Inventory);
    expect(t.err.join("")).toMatch(/\/nonexistent\/inv\.yaml/);
  });
});
