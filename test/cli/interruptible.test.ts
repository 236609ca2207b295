// The run's one AbortSignal (interruptible, cli/main.ts) is listened on by every host's running commands:
// a run over many hosts must not print Node's MaxListenersExceededWarning (the signal is not leaking).
import { describe, expect, it } from "vitest";
import { interruptible } from "../../src/cli/main.js";

describe("interruptible", () => {
  it("its signal takes a listener per host without a MaxListenersExceededWarning", async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => void warnings.push(w.name);
    process.on("warning", onWarning);
    try {
      await interruptible(async (signal) => {
        for (let i = 0; i < 50; i++) signal.addEventListener("abort", () => {});
        await new Promise((r) => setTimeout(r, 20)); // warnings are emitted on a later tick
      });
    } finally {
      process.off("warning", onWarning);
    }
    expect(warnings).not.toContain("MaxListenersExceededWarning");
  });
});
