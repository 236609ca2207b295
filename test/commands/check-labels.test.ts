// `check` labels a host it could not check by the cause, and one local problem shared by every host (a
// missing identity file) is one line, not one per host.
import { describe, expect, it } from "vitest";
import { problemLabel, renderReport } from "../../src/commands/check-run.js";
import { AuthError, CommandError, HostKeyChangedError, HostKeyError, IdentityFileError, MultiHostError, TimeoutError, UnreachableError } from "../../src/errors.js";

describe("check: a label per cause", () => {
  it("names each cause", () => {
    expect(problemLabel(new HostKeyChangedError("a", "HOST KEY CHANGED for …"))).toBe("HOST KEY CHANGED");
    expect(problemLabel(new HostKeyError("a", "not in known_hosts"))).toBe("HOST KEY UNKNOWN");
    expect(problemLabel(new IdentityFileError("a", "identity file /k does not exist"))).toBe("KEY FILE");
    expect(problemLabel(new AuthError("a", "authentication failed"))).toBe("AUTH FAILED");
    expect(problemLabel(new TimeoutError("a", "connect timed out"))).toBe("TIMEOUT");
    expect(problemLabel(new UnreachableError("a", "connection refused"))).toBe("UNREACHABLE");
    expect(problemLabel(new CommandError("a", "facts", 1, "boom"))).toBe("FACTS FAILED");
  });

  it("the table shows the label in STATUS", () => {
    const out = renderReport([{ name: "w1", address: "198.18.1.11", roles: ["worker"], findings: [], error: "w1: x", problem: "AUTH FAILED" }]);
    expect(out).toMatch(/^w1\s.*AUTH FAILED\s*$/m);
  });
});

describe("one line for a problem every host shares", () => {
  it("groups identical messages, keeps the others apart, in priority order", () => {
    const e = new MultiHostError([
      new IdentityFileError("cp1", "identity file /k does not exist", { hint: "fix identityFile in the inventory" }),
      new UnreachableError("w2", "connection refused"),
      new IdentityFileError("w1", "identity file /k does not exist", { hint: "fix identityFile in the inventory" }),
    ]);
    expect(e.oneLine().split("\n")).toEqual(["cp1, w1: identity file /k does not exist (fix identityFile in the inventory)", "w2: connection refused"]);
    expect(e.exitCode).toBe(5);
  });
});
