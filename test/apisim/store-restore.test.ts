// An etcd restore in the lab replaces the store's content with a snapshot's (Store.replaceState, driven by
// lab/sim/static-pods.ts): objects made after the snapshot are gone, deleted ones are back, the revision
// keeps growing past both, and the state file holds the restored content. The snapshot itself is read
// back from the state file and journal as etcdctl snapshot save takes it (lab/sim/etcd-snapshot.ts).
import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { BUILTIN_RESOURCES, Store } from "../../src/lab/apisim/index.js";
import type { KObject } from "../../src/lab/apisim/types.js";
import { storeState } from "../../src/lab/sim/etcd-snapshot.js";
import { restartStaticPodsScript, startStaticPodsScript, stopStaticPodsScript, waitLocalApiScript } from "../../src/scripts/static-pods.js";

const def = (r: string) => BUILTIN_RESOURCES.find((d) => d.resource === r)!;

describe("Store.replaceState (an etcd restore)", () => {
  it("takes a snapshot's objects; later objects go, deleted ones return, the revision only grows", () => {
    const dir = mkdtempSync(join(tmpdir(), "apisim-restore-"));
    const file = join(dir, "apiserver.json");
    const store = new Store(file);
    store.create(def("namespaces"), "", { metadata: { name: "precious" } }, { manager: "t" });
    store.create(def("configmaps"), "precious", { metadata: { name: "keep-me" }, data: { a: "1" } }, { manager: "t" });
    const snap = storeState(dir) as { revision: number; objects: Record<string, KObject[]> };
    store.delete(def("configmaps"), "precious", "keep-me");
    store.create(def("namespaces"), "", { metadata: { name: "made-after" } }, { manager: "t" });
    const before = Number(store.resourceVersion);

    store.replaceState(snap);
    expect(store.get(def("configmaps"), "precious", "keep-me")["data"]).toEqual({ a: "1" });
    expect(() => store.get(def("namespaces"), "", "made-after")).toThrow();
    expect(Number(store.resourceVersion)).toBeGreaterThan(before);
    // persisted: a store started from the file sees the restored content
    expect(new Store(file).get(def("configmaps"), "precious", "keep-me")["data"]).toEqual({ a: "1" });
  });
});

describe("static pod scripts", () => {
  it("are valid POSIX sh", () => {
    for (const s of [stopStaticPodsScript(), startStaticPodsScript(), restartStaticPodsScript(), waitLocalApiScript()]) {
      expect(() => execFileSync("sh", ["-n"], { input: s })).not.toThrow();
    }
    expect(restartStaticPodsScript()).toMatch(/trap back EXIT/);
  });
});
