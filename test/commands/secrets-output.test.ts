// The end of up and generated secrets: values only on a terminal. Off a terminal (CI logs, files) it says
// which secrets were made, where they are kept and how to show them, and prints no value.
import { describe, expect, it } from "vitest";
import { generatedSecretsLines } from "../../src/commands/cluster-run.js";
import type { ClusterContext } from "../../src/phases/context.js";

const ctx = {
  generatedSecrets: [
    { bundle: "grafana", path: "adminPassword", value: "s3cret-Grafana-9x" },
    { bundle: "traefik", path: "dashboard.password", value: "s3cret-Traefik-7y" },
  ],
  stateDir: "/home/ops/.kubesmith",
  model: { name: "prod" },
  options: { inventory: "prod.yaml" },
} as unknown as ClusterContext;

describe("generated secrets at the end of up", () => {
  it("off a terminal: no value, but which secrets, where they are kept and the command that shows them", () => {
    const out = generatedSecretsLines(ctx, false);
    expect(out).not.toMatch(/s3cret/);
    expect(out).toMatch(/Generated 2 secret\(s\) \(grafana adminPassword, traefik dashboard\.password\), not printed because this is not a terminal/);
    expect(out).toMatch(/kept in \/home\/ops\/\.kubesmith\/prod\/secrets\.json \(0600\); 'kubesmith secrets -i prod\.yaml' shows them/);
  });

  it("on a terminal: the values, and no claim that they are shown only once", () => {
    const out = generatedSecretsLines(ctx, true);
    expect(out).toMatch(/grafana adminPassword: s3cret-Grafana-9x/);
    expect(out).toMatch(/traefik dashboard\.password: s3cret-Traefik-7y/);
    expect(out).not.toMatch(/only this once/);
  });

  it("nothing generated: nothing said", () => {
    expect(generatedSecretsLines({ ...ctx, generatedSecrets: [] } as unknown as ClusterContext, false)).toBe("");
  });
});
