// Running Steps (src/scripts/step.ts) on a host through the change gate: probe (read-only, also in dry
// run); when it fails, apply through change(); then probe again, so a step that "succeeded" without taking
// effect is caught at once instead of three phases later.
import { CommandError } from "../errors.js";
import type { Step } from "../scripts/step.js";
import type { Runner } from "../ssh/types.js";
import { applyStep } from "./packages.js";
import { change, throwIfInterrupted, type PhaseContext } from "./run.js";

export async function stepNeeded(runner: Runner, s: Step): Promise<boolean> {
  const r = await runner.exec(s.probe, {
    sudo: s.sudo ?? true,
    allowFailure: true,
    label: `probe ${s.id}`,
    ...(s.stdin !== undefined ? { stdin: s.stdin } : {}),
    ...(s.secrets ? { secrets: s.secrets } : {}),
  });
  return r.code !== 0;
}

/** Returns how many steps changed something (or would, in dry run). */
export async function runSteps(ctx: PhaseContext, host: string, runner: Runner, steps: readonly Step[]): Promise<number> {
  let changed = 0;
  for (const s of steps) {
    throwIfInterrupted(ctx);
    if (!(await stepNeeded(runner, s))) continue;
    changed++;
    await change(ctx, host, s.what, async () => {
      if (s.packageIndex) {
        // index refreshed first when stale, transient package-manager failures retried (packages.ts)
        const r = await applyStep(ctx, host, runner, s);
        if (r.code !== 0) throw new CommandError(host, s.apply, r.code, r.stderr, `'${s.id}'`);
      } else {
        await runner.exec(s.apply, {
          sudo: s.sudo ?? true,
          label: s.id,
          ...(s.stdin !== undefined ? { stdin: s.stdin } : {}),
          ...(s.secrets ? { secrets: s.secrets } : {}),
        });
      }
      if (await stepNeeded(runner, s)) {
        throw new CommandError(host, s.probe, 1, "", `step '${s.id}' (${s.what}) ran but its check still fails`);
      }
    });
  }
  return changed;
}
