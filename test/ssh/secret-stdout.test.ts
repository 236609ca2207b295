// ExecOptions.secretStdoutAfter: what the logs keep of a command whose output ends in a secret file.
import { describe, expect, it } from "vitest";
import { acquireLock } from "../../src/cluster/lock.js";
import { hideSecretStdout } from "../../src/ssh/connection.js";
import type { ExecOptions, ExecResult, Runner } from "../../src/ssh/types.js";

describe("secret stdout", () => {
  it("is replaced by its size from the marker line on; without the marker everything is logged", () => {
    expect(hideSecretStdout("facts=1\n@@m\nclient-key-data: c2VjcmV0\n", "@@m")).toBe("facts=1\n@@m\n[26 bytes not logged]\n");
    expect(hideSecretStdout("facts=1\n", "@@m")).toBe("facts=1\n");
    expect(hideSecretStdout("a\n@@m\nb\n", undefined)).toBe("a\n@@m\nb\n");
    // "": a downloaded file, all of it
    expect(hideSecretStdout("apiVersion: v1\n", "")).toBe("[15 bytes not logged]\n");
  });

  it("the lock's round trip runs the read-only script after the lock's part and returns its output", async () => {
    const seen: { command: string; opts: ExecOptions }[] = [];
    const runner = {
      host: "cp1",
      exec: async (command: string, opts: ExecOptions = {}): Promise<ExecResult> => {
        seen.push({ command, opts });
        return { stdout: "ACQUIRED\n\n@@kubesmith-lock-then\nhostname=cp1\n", stderr: "", code: 0, durationMs: 1 };
      },
    } as unknown as Runner;
    const me = { holder: "a@b", machine: "b", pid: 1, command: "up", startedAt: "now" };
    const out = await acquireLock(runner, me, { warn: () => undefined, then: { script: "echo hostname=cp1", secretAfter: "@@s" } });
    expect(out).toBe("hostname=cp1\n");
    expect(seen).toHaveLength(1);
    expect(seen[0]!.command).toMatch(/set -C; cat > '\/var\/lib\/kubesmith\/lock'[\s\S]*\(\necho hostname=cp1\n\) <\/dev\/null$/);
    expect(seen[0]!.opts).toMatchObject({ sudo: true, stdin: JSON.stringify(me), secretStdoutAfter: "@@s" });
  });
});
