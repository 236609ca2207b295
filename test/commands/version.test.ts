import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { main } from "../../src/cli/main.js";
import { CALICO, KUBERNETES } from "../../src/versions.js";

async function run(args: string[]): Promise<{ code: number; out: string }> {
  let out = "";
  const code = await main(args, { stdout: (s) => void (out += s), stderr: (s) => void (out += s) });
  return { code, out };
}

describe("kubesmith version", () => {
  it("shows kubesmith's version, the default and supported Kubernetes, Calico, containerd and Node", async () => {
    const r = await run(["version"]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^kubesmith\s+\d+\.\d+\.\d+$/m);
    expect(r.out).toContain(`kubernetes  ${KUBERNETES.default} (default; supported: ${KUBERNETES.supported.join(", ")})`);
    expect(r.out).toContain(`calico      ${CALICO.version}`);
    expect(r.out).toContain(`node        ${process.version}`);
  });
  it("-o json and -o yaml give the same fields", async () => {
    const j = JSON.parse((await run(["version", "-o", "json"])).out) as Record<string, unknown>;
    const y = parse((await run(["version", "-o", "yaml"])).out) as Record<string, unknown>;
    expect(y).toEqual(j);
    expect(j["calico"]).toBe(CALICO.version);
    expect((j["kubernetes"] as { default: string }).default).toBe(KUBERNETES.default);
  });
});
