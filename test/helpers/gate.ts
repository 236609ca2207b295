// The run's real change gate (phases/run.ts) over a bare phase context, for tests that drive an engine
// (applyRelease, removeRelease) without a whole cluster run: ctx.changes lists what went through it.
import { gateOf, type Gate, type PhaseContext } from "../../src/phases/run.js";
import { MemoryReporter } from "../../src/ui/events.js";

export function testRun(dryRun = false, host = "cluster"): { ctx: PhaseContext & { reporter: MemoryReporter }; gate: Gate; whats: () => string[] } {
  const ctx: PhaseContext & { reporter: MemoryReporter } = { dryRun, reporter: new MemoryReporter(), concurrency: 4, phase: "addons", changes: [] };
  return { ctx, gate: gateOf(ctx, host), whats: () => ctx.changes.map((c) => c.what) };
}
