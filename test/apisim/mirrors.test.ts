// The lab's registry mirrors (known-images.ts RegistryMirror): an image under a declared mirror pulls iff
// the same path:tag is a real release on a registry it mirrors, whatever the mirror's host name.
import { describe, expect, it } from "vitest";
import { mirroredFrom, parseRegistryMirror, pullImage, type RegistryMirror } from "../../src/lab/apisim/known-images.js";
import { programOf } from "../../src/lab/apisim/workload-needs.js";

const M = "registry.lab.example:5000/mirror";
const MIRRORS: RegistryMirror[] = [parseRegistryMirror(`${M}=registry.k8s.io,docker.io,quay.io`)];

describe("registry mirrors in the lab", () => {
  it("parses PREFIX=UP1,UP2 and refuses anything else", () => {
    expect(MIRRORS[0]).toEqual({ prefix: M, upstreams: ["registry.k8s.io", "docker.io", "quay.io"] });
    expect(() => parseRegistryMirror("no-equals")).toThrow(/PREFIX=UPSTREAM/);
  });

  it("maps an image under the mirror to the same path:tag on each upstream", () => {
    expect(mirroredFrom(`${M}/calico/node:v3.32.1`, MIRRORS)).toEqual(["registry.k8s.io/calico/node:v3.32.1", "docker.io/calico/node:v3.32.1", "quay.io/calico/node:v3.32.1"]);
    expect(mirroredFrom("quay.io/calico/node:v3.32.1", MIRRORS)).toBeUndefined();
  });

  it.each([
    [`${M}/calico/node:v3.32.1`, ""],
    [`${M}/library/traefik:v3.7.13`, ""],
    [`${M}/pause:3.10.1`, "65535:65535"],
    [`${M}/prometheus/prometheus:v3.5.0`, "nobody"],
  ])("%s pulls, as the upstream image's user", (image, user) => {
    const r = pullImage(image, [], MIRRORS);
    expect(r.ok).toBe(true);
    expect(r.ok && r.user).toBe(user);
  });

  it("a path:tag that is no real release does not pull from the mirror, although its host is under .example", () => {
    const r = pullImage(`${M}/calico/node:v9.9.9`, [], MIRRORS);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.message).toMatch(/not found/);
    expect(pullImage(`${M}/made/up:1`, [], MIRRORS).ok).toBe(false);
    // without the declaration the reserved-domain seam still lets a test's own registry pull anything
    expect(pullImage(`${M}/made/up:1`).ok).toBe(true);
  });

  it("an image under the mirror runs the upstream image's program (its API needs are checked)", () => {
    expect(programOf({ image: `${M}/prometheus/prometheus:v3.5.0` }, MIRRORS)?.program).toBe(programOf({ image: "quay.io/prometheus/prometheus:v3.5.0" })?.program);
    expect(programOf({ image: `${M}/prometheus/prometheus:v3.5.0` }, MIRRORS)).toBeDefined();
  });
});
