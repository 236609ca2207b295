// lab down leaves nothing behind: no namespace, link, process, mount or state, also after a crash.
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { labDown, loadLabState, type LabState } from "../../src/lab/lab.js";
import { labDir, packageRoot } from "../../src/lab/paths.js";
import { netnsInode, pidsInNetns } from "../../src/lab/procs.js";
import { ensureSimBuilt, labSkip, requireRoot, ssh, startLab, waitFor } from "../helpers/lab.js";

interface Snapshot {
  state: LabState;
  inodes: Set<number>;
}

function snapshot(name: string): Snapshot {
  const state = loadLabState(name);
  if (!state) throw new Error(`no state for lab ${name}`);
  const inodes = new Set(state.namespaces.map(netnsInode).filter((i): i is number => i !== undefined));
  return { state, inodes };
}

/** Everything of the lab still present; [] when clean. */
async function leftovers({ state, inodes }: Snapshot): Promise<string[]> {
  const out: string[] = [];
  for (const ns of state.namespaces) if (existsSync(`/run/netns/${ns}`)) out.push(`netns ${ns}`);
  const links = [...state.veths, ...(state.bridge ? [state.bridge] : [])];
  // veths vanish asynchronously after their namespace goes; labDown waits, so they must be gone now
  for (const l of links) if (existsSync(`/sys/class/net/${l}`)) out.push(`link ${l}`);
  for (const pid of pidsInNetns(inodes)) out.push(`process ${pid} in a lab namespace`);
  const mounts = readFileSync("/proc/self/mountinfo", "utf8").split("\n");
  for (const m of mounts) if (m.includes(state.dir) || (m.includes(" overlay ") && m.includes("kubesmith-lab"))) out.push(`mount ${m}`);
  if (existsSync(state.dir)) out.push(`state dir ${state.dir}`);
  return out;
}

describe.skipIf(labSkip)("lab down", () => {
  beforeAll(async () => {
    requireRoot();
    await ensureSimBuilt();
  });

  it("removes every namespace, link, process, mount and the state of a running lab", async () => {
    const lab = await startLab({ name: "lt-down", hosts: 3 });
    // leave some sessions and a background process running on the hosts
    const bg = await ssh(lab.state, "lab-2", "nohup sleep 1000 >/dev/null 2>&1 & echo $!");
    expect(Number(bg.stdout.trim())).toBeGreaterThan(1);
    const snap = snapshot("lt-down");
    expect(snap.inodes.size).toBe(3);
    expect(pidsInNetns(snap.inodes)).toContain(Number(bg.stdout.trim()));
    await lab.down();
    expect(await leftovers(snap)).toEqual([]);
  });

  it("is a no-op for a lab that does not exist", async () => {
    const lines: string[] = [];
    await labDown("lt-none", (l) => lines.push(l));
    expect(lines.join("\n")).toMatch(/not up: nothing to do/);
  });

  it("cleans up after lab up is killed midway", async () => {
    const name = "lt-crash";
    if (loadLabState(name)) await labDown(name);
    const lib = path.join(packageRoot(), "dist", "lab", "lab.js");
    const child = spawn(
      process.execPath,
      ["-e", `import(${JSON.stringify(lib)}).then((m) => m.labUp({ name: ${JSON.stringify(name)}, hosts: 12, inventoryOut: ${JSON.stringify(path.join(os.tmpdir(), "lt-crash.yaml"))} }))`],
      { stdio: "ignore" },
    );
    const stateFile = path.join(labDir(name), "state.json");
    // kill it once the network exists and the hosts are being started, before it can finish
    const seen = await waitFor(() => {
      try {
        const st = JSON.parse(readFileSync(stateFile, "utf8")) as LabState;
        return st.namespaces.length === 12 && existsSync(`/run/netns/${st.namespaces[11]}`);
      } catch {
        return false;
      }
    }, 20_000, 2);
    child.kill("SIGKILL");
    await new Promise((r) => child.once("exit", r));
    expect(seen).toBe(true);
    // let any host whose setup was already spawned get going, so there is something to clean
    await new Promise((r) => setTimeout(r, 300));
    const snap = snapshot(name);
    expect(snap.state.phase).toBe("building");
    expect(snap.inodes.size).toBe(12);
    await labDown(name);
    expect(await leftovers(snap)).toEqual([]);
  });
});
