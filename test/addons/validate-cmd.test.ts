import { describe, expect, it } from "vitest";
import { hostFileStep, validateCommand } from "../../src/addons/hostapply.js";

describe("a host file's validate command", () => {
  it("puts the file in for %s, {file}, {{file}} (as addon.yaml files write it) and FILE", () => {
    for (const t of ["keepalived -t -f %s", "keepalived -t -f {file}", "keepalived -t -f {{file}}", "keepalived -t -f FILE"]) {
      expect(validateCommand(t, "/etc/k.conf.tmp"), t).toBe("keepalived -t -f '/etc/k.conf.tmp'");
    }
  });
  it("the plan line names the real file, no template placeholder", () => {
    const s = hostFileStep("keepalived-edge", { path: "/etc/keepalived/keepalived.conf", content: "x", mode: 0o600, secret: true, validate: "keepalived -t -f {{file}}" });
    expect(s.what).toBe("keepalived-edge: write /etc/keepalived/keepalived.conf (checked with 'keepalived -t -f /etc/keepalived/keepalived.conf' first)");
  });
});
