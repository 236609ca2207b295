// down drains through the Eviction API (issue 10): on a lab of 1 control plane and 2 workers, a
// Deployment of 2 replicas under a PodDisruptionBudget minAvailable 2 cannot be drained, so down fails
// with one line naming the worker, the pod and the budget (exit 11) and resets nothing; down --force then
// deletes what the budget holds when --drain-timeout is up, and tears the cluster down. Lab "e2edrain".
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KubeClient } from "../../src/kube/client.js";
import { kubesmith as runCli, type RunResult as Run } from "../helpers/cli.js";
import { labSkip, startLab, type StartedLab } from "../helpers/lab.js";

describe.skipIf(labSkip)("down drains through the Eviction API, PodDisruptionBudgets hold (lab 1cp,2w)", () => {
  let lab: StartedLab;
  let work = "";
  const kubesmith = (args: string[]): Promise<Run> => runCli(args, { cwd: work, env: { CI: "true" } });
  const args = () => ["-i", lab.inventoryPath, "--state-dir", join(work, "state")];

  beforeAll(async () => {
    lab = await startLab({ name: "e2edrain", layout: "1cp,2w" });
    work = mkdtempSync(join(tmpdir(), "kubesmith-drain-"));
  }, 120_000);
  afterAll(async () => {
    await lab?.down();
  });

  it("a budget that allows no disruption stops down with its name; --force goes through", async () => {
    const up = await kubesmith(["up", ...args(), "-o", "json"]);
    expect(up.code, up.stderr + up.stdout.slice(-2000)).toBe(0);
    const kube = await KubeClient.fromKubeconfig(readFileSync(join(work, "state", lab.state.name, "kubeconfig"), "utf8"));
    let podNames: string[];
    try {
      await kube.apply({
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: "web", namespace: "default" },
        spec: { replicas: 2, selector: { matchLabels: { app: "web" } }, template: { metadata: { labels: { app: "web" } }, spec: { containers: [{ name: "web", image: "registry.example/web:1" }] } } },
      });
      await kube.apply({ apiVersion: "policy/v1", kind: "PodDisruptionBudget", metadata: { name: "web", namespace: "default" }, spec: { minAvailable: 2, selector: { matchLabels: { app: "web" } } } });
      // both pods run (one per worker) before down starts
      for (let i = 0; ; i++) {
        const pods = (await kube.list("v1", "Pod", { namespace: "default", labelSelector: "app=web" })) as { metadata: { name: string }; status?: { phase?: string } }[];
        if (pods.length === 2 && pods.every((p) => p.status?.phase === "Running")) {
          podNames = pods.map((p) => p.metadata.name);
          break;
        }
        if (i > 100) throw new Error(`web pods not running: ${JSON.stringify(pods.map((p) => p.status))}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      kube.close();
    }

    const refused = await kubesmith(["down", "--yes", "--drain-timeout", "2", ...args()]);
    expect(refused.code, refused.stderr + refused.stdout.slice(-2000)).toBe(11);
    const line = refused.stderr.split("\n").find((l) => l.includes("drain timed out")) ?? "";
    const worker = lab.state.hosts.find((h) => h.roles.includes("worker"))!.name;
    expect(line, refused.stderr).toMatch(new RegExp(`^kubesmith: ${worker}: drain timed out after 2 s; still on the node: default/(${podNames!.join("|")}) \\(PodDisruptionBudget default/web allows 0 disruption\\(s\\): needs 2 healthy pods, has 2\\) \\(run again with --force`));
    // nothing was reset: the next run still finds the cluster
    const forced = await kubesmith(["down", "--yes", "--drain-timeout", "1", "--force", ...args(), "-o", "json"]);
    expect(forced.code, forced.stderr + forced.stdout.slice(-2000)).toBe(0);
    expect(forced.stdout).toContain("deleted without eviction (--force): its disruption budget did not allow eviction");
  }, 400_000);
});
