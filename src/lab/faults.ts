// Lab faults: per host, per simulated command delays, failures, exit codes and hangs.
// Read by the simulator on every command, so a test can change them while the lab runs.
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import { TRANSIENT_KINDS as TRANSIENT, type TransientKind } from "./sim/transient.js";
import type { LabFault } from "./types.js";

/** Parse a faults file: a YAML/JSON list, or `{ faults: [...] }`. Throws a plain Error on bad input. */
export function parseFaults(text: string, file = "faults"): LabFault[] {
  const doc: unknown = text.trim() === "" ? [] : parse(text);
  const list = Array.isArray(doc) ? doc : (doc as { faults?: unknown } | null)?.faults ?? [];
  if (!Array.isArray(list)) throw new Error(`${file}: expected a list of faults`);
  return list.map((raw, i): LabFault => {
    const f = raw as Record<string, unknown>;
    const where = `${file}: faults[${i}]`;
    if (typeof f !== "object" || f === null) throw new Error(`${where}: must be a mapping`);
    if (typeof f.command !== "string" || !f.command.trim()) throw new Error(`${where}.command: must be a command like "kubeadm join"`);
    const out: LabFault = { command: f.command.trim() };
    if (f.host !== undefined) {
      if (typeof f.host !== "string") throw new Error(`${where}.host: must be a host name`);
      out.host = f.host;
    }
    if (f.delayMs !== undefined) {
      if (typeof f.delayMs !== "number" || f.delayMs < 0) throw new Error(`${where}.delayMs: must be a number >= 0`);
      out.delayMs = f.delayMs;
    }
    if (f.fail !== undefined) {
      if (typeof f.fail !== "string") throw new Error(`${where}.fail: must be a message`);
      out.fail = f.fail;
    }
    if (f.exitCode !== undefined) {
      if (!Number.isInteger(f.exitCode) || (f.exitCode as number) < 0 || (f.exitCode as number) > 255) {
        throw new Error(`${where}.exitCode: must be an integer 0-255`);
      }
      out.exitCode = f.exitCode as number;
    }
    if (f.hang !== undefined) out.hang = f.hang === true;
    if (f.transient !== undefined) {
      if (typeof f.transient !== "string" || !(TRANSIENT as readonly string[]).includes(f.transient)) {
        throw new Error(`${where}.transient: must be one of ${TRANSIENT.join(", ")}`);
      }
      if (out.fail !== undefined || out.exitCode !== undefined) throw new Error(`${where}: transient brings its own message and exit code; drop fail/exitCode`);
      out.transient = f.transient as TransientKind;
    }
    if (f.times !== undefined) {
      if (!Number.isInteger(f.times) || (f.times as number) < 1) throw new Error(`${where}.times: must be an integer >= 1`);
      out.times = f.times as number;
    }
    for (const k of Object.keys(f)) {
      if (!["host", "command", "delayMs", "fail", "exitCode", "hang", "transient", "times"].includes(k)) throw new Error(`${where}: unknown field '${k}'`);
    }
    return out;
  });
}

export function readFaultsFile(file: string): LabFault[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw e;
  }
  return parseFaults(text, file);
}

/** A fault's key for counting its `times` (the file is re-read on every command, so by content). */
export function faultKey(f: LabFault, index: number): string {
  return `${index}:${JSON.stringify(f)}`;
}

/**
 * The first fault for this host whose command is a word prefix of argv (tool name first), skipping those
 * with `times` that already applied that often (`used`: counts by faultKey).
 */
export function matchFault(faults: LabFault[], host: string, argv: string[], used: Record<string, number> = {}): LabFault | undefined {
  return faults.find((f, i) => {
    if (f.host !== undefined && f.host !== host) return false;
    if (f.times !== undefined && (used[faultKey(f, i)] ?? 0) >= f.times) return false;
    const words = f.command.split(/\s+/);
    return words.length <= argv.length && words.every((w, i) => argv[i] === w);
  });
}
