import { describe, expect, it } from "vitest";
import { HostLog, capOutput, formatEntry, redact } from "../../src/ssh/log.js";
import { SecretList } from "../../src/util/secrets.js";
import { quote } from "../../src/ssh/quote.js";

describe("redact", () => {
  it("replaces every secret, longest first, also in its quoted form", () => {
    expect(redact("a hunter2 b hunter2", ["hunter2"])).toBe("a *** b ***");
    expect(redact("pass=abcdef", ["abc", "abcdef"])).toBe("pass=***");
    const s = "it's $(x)";
    expect(redact(`echo ${quote(s)}`, [s])).toBe("echo '***'");
    expect(redact("nothing", ["", "zzz"])).toBe("nothing");
  });

  it("caps long output keeping head and tail", () => {
    const long = "h".repeat(100) + "m".repeat(1000) + "t".repeat(100);
    const c = capOutput(long, 200);
    expect(c.startsWith("h".repeat(100))).toBe(true);
    expect(c.endsWith("t".repeat(100))).toBe(true);
    expect(c).toContain("1000 characters elided");
    expect(capOutput("short", 200)).toBe("short");
  });

  it("HostLog redacts command, output, label and error", () => {
    const log = new HostLog({ host: "n1", secrets: new SecretList().add("S3CRET") });
    const e = log.record({
      startedAt: new Date(0),
      durationMs: 1.234,
      label: "use S3CRET",
      command: "echo S3CRET",
      code: null,
      stdout: "S3CRET",
      stderr: "x S3CRET",
      error: "failed S3CRET",
      secrets: ["extra1"],
    });
    expect(JSON.stringify(e)).not.toContain("S3CRET");
    expect(e).toMatchObject({ host: "n1", command: "echo ***", stdout: "***", stderr: "x ***", error: "failed ***", label: "use ***" });
    expect(formatEntry(e)).toContain("error: failed ***");
  });
});
