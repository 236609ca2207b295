// The add-on engine's pure half: bundle loading, values, render, schema validation, dependency order.
// No root, no network: fixture bundles under test/fixtures/addons and variations written to a temp dir.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { loadBundle, readCatalog } from "../../src/addons/catalog.js";
import { imageProblem } from "../../src/addons/images.js";
import { orderBundles } from "../../src/addons/order.js";
import { renderAccess, renderCluster, renderHosts } from "../../src/addons/render.js";
import type { Bundle, RenderContext } from "../../src/addons/types.js";
import { validateObjects } from "../../src/addons/validate.js";
import { parseSetArgs, resolveValues } from "../../src/addons/values.js";
import { InventoryError, UsageError } from "../../src/errors.js";
import type { KubeObject } from "../../src/kube/client.js";

const FIXTURES = join(import.meta.dirname, "..", "fixtures", "addons");
const tmp = mkdtempSync(join(tmpdir(), "kubesmith-engine-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const HOSTS = [
  { name: "cp1", address: "198.18.0.11", roles: ["control-plane"] },
  { name: "fe1", address: "198.18.0.21", roles: ["frontend"] },
  { name: "w1", address: "198.18.0.31", roles: ["worker"] },
  { name: "fe2", address: "198.18.0.22", roles: ["frontend", "worker"] },
];

function ctxFor(bundle: Bundle, values: Record<string, unknown>, release = { name: bundle.manifest.name, namespace: bundle.manifest.namespace ?? "default" }): RenderContext {
  return {
    values,
    release,
    images: { ...(bundle.manifest.images ?? {}) },
    cluster: { name: "t", podCIDR: "10.244.0.0/16", serviceCIDR: "10.96.0.0/12", hosts: HOSTS, frontendTaints: [], access: { node: "203.0.113.1", frontend: "203.0.113.1" } },
  };
}

let n = 0;
/** A copy of the demo bundle with some files replaced or added. */
function variant(files: Record<string, string>, base = "demo"): string {
  const dir = join(tmp, `b${n++}`, base);
  cpSync(join(FIXTURES, base), dir, { recursive: true });
  for (const [f, text] of Object.entries(files)) writeFileSync(join(dir, f), text);
  return dir;
}

function caught(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error("expected an error, got none");
}

async function caughtAsync(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error("expected an error, got none");
}

function find(objs: KubeObject[], kind: string, name?: string): KubeObject {
  const o = objs.find((x) => x.kind === kind && (name === undefined || x.metadata.name === name));
  if (!o) throw new Error(`no ${kind}/${name ?? "*"} in ${objs.map((x) => `${x.kind}/${x.metadata.name}`).join(", ")}`);
  return o;
}

function dig(o: unknown, ...path: (string | number)[]): unknown {
  let v = o;
  for (const p of path) v = (v as Record<string | number, unknown>)[p];
  return v;
}

describe("loadBundle", () => {
  it("reads metadata, defaults, schema and sorted templates", async () => {
    const b = await loadBundle(join(FIXTURES, "demo"));
    expect(b.manifest).toMatchObject({ name: "demo", version: "1.0.0", target: "cluster", namespace: "demo-ns" });
    expect(b.defaults).toMatchObject({ replicas: 2, port: 8080, service: { type: "ClusterIP" } });
    expect(b.schema).toMatchObject({ additionalProperties: false });
    expect(Object.keys(b.templates)).toEqual(["_labels.yaml", "configmap.yaml", "deployment.yaml", "service.yaml"]);
  });

  it("refuses bad metadata naming the file, line and field", async () => {
    const manifest = readFileSync(join(FIXTURES, "demo", "addon.yaml"), "utf8");
    const bad = await caughtAsync(loadBundle(variant({ "addon.yaml": manifest.replace("target: cluster", "target: everywhere") })));
    expect(bad).toBeInstanceOf(UsageError);
    expect(bad.message).toMatch(/addon\.yaml:5:9: target: /);

    const typo = await caughtAsync(loadBundle(variant({ "addon.yaml": `${manifest}dependson: [x]\n` })));
    expect(typo.message).toMatch(/addon\.yaml:\d+:1: dependson: unknown field/);

    const latest = await caughtAsync(loadBundle(variant({ "addon.yaml": manifest.replace("web:1.4.2", "web:latest") })));
    expect(latest.message).toMatch(/images\.web: .*latest/);

    const noName = await caughtAsync(loadBundle(variant({ "addon.yaml": manifest.replace("name: demo\n", "") })));
    expect(noName.message).toMatch(/addon\.yaml.*name: is required/);
  });

  it("refuses a values schema ajv cannot compile, naming the schema file", async () => {
    const err = await caughtAsync(loadBundle(variant({ "values.schema.json": JSON.stringify({ type: "object", additionalProperty: false }) })));
    expect(err).toBeInstanceOf(UsageError);
    expect(err.message).toMatch(/values\.schema\.json: invalid values schema/);
  });
});

describe("resolveValues", () => {
  it("deep-merges overrides: mappings merge, lists and scalars replace", async () => {
    const b = await loadBundle(join(FIXTURES, "demo"));
    const v = resolveValues(b, { replicas: 5, config: { tags: ["z"], extra: { k: 1 } } }, "inv.yaml");
    expect(v).toMatchObject({ replicas: 5, port: 8080, config: { greeting: "hi", tags: ["z"], extra: { k: 1 } } });
    expect(b.defaults.replicas).toBe(2); // defaults untouched
    expect((b.defaults.config as { tags: string[] }).tags).toEqual(["a", "b"]);
  });

  it("refuses bad overrides with one issue per problem, naming the key path and what is allowed", async () => {
    const b = await loadBundle(join(FIXTURES, "demo"));
    const err = caught(() => resolveValues(b, { replica: 3, replicas: "two", service: { type: "LoadBalancer" } }, "/x/inventory.yaml"));
    expect(err).toBeInstanceOf(InventoryError);
    const issues = (err as InventoryError).issues;
    const byPath = Object.fromEntries(issues.map((i) => [i.path, i]));
    expect(Object.keys(byPath).sort()).toEqual(["addons.demo.values.replica", "addons.demo.values.replicas", "addons.demo.values.service.type"]);
    expect(byPath["addons.demo.values.replica"]).toMatchObject({ file: "/x/inventory.yaml", message: "unknown key" });
    expect(byPath["addons.demo.values.replica"]!.hint).toMatch(/did you mean replicas\?.*allowed keys: replicas, port/);
    expect(byPath["addons.demo.values.replicas"]!.message).toMatch(/must be integer, not the string "two"/);
    expect(byPath["addons.demo.values.service.type"]!.message).toMatch(/"LoadBalancer"/);
    expect(byPath["addons.demo.values.service.type"]!.hint).toBe('allowed: "ClusterIP", "NodePort"');
    expect(err.message).toMatch(/^\/x\/inventory\.yaml: addons\.demo\.values\./);
  });

  it("refuses overrides that are not a mapping", async () => {
    const b = await loadBundle(join(FIXTURES, "demo"));
    const err = caught(() => resolveValues(b, ["a"], "inv.yaml"));
    expect((err as InventoryError).issues[0]).toMatchObject({ path: "addons.demo.values", message: "must be a mapping of values, not a list" });
  });

  it("reads --set as YAML typed values into nested keys", () => {
    expect(parseSetArgs(["replicas=3", "service.type=NodePort", "config.tags=[x, y]", "message='007'", "a\\.b.c=true"])).toEqual({
      replicas: 3,
      service: { type: "NodePort" },
      config: { tags: ["x", "y"] },
      message: "007",
      "a.b": { c: true },
    });
    expect(caught(() => parseSetArgs(["novalue"]))).toBeInstanceOf(UsageError);
  });
});

describe("renderCluster", () => {
  it("renders the fixture with defaults: namespaced, labelled, parsed", async () => {
    const b = await loadBundle(join(FIXTURES, "demo"));
    const r = renderCluster(b, ctxFor(b, resolveValues(b, {}, "inv.yaml")));
    expect(r.bundle).toBe("demo");
    expect(r.objects.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual(["ConfigMap/demo-config", "Deployment/demo", "Service/demo"]);
    for (const o of r.objects) {
      expect(o.metadata.namespace).toBe("demo-ns");
      expect(o.metadata.labels).toMatchObject({ "app.kubernetes.io/managed-by": "kubesmith", "kubesmith.io/addon": "demo", "kubesmith.io/release": "demo" });
    }
    const cm = find(r.objects, "ConfigMap");
    expect(parseYaml(dig(cm, "data", "config.yaml") as string)).toEqual({ greeting: "hi", tags: ["a", "b"] });
    const dep = find(r.objects, "Deployment");
    expect(dig(dep, "spec", "replicas")).toBe(2);
    expect(dig(dep, "spec", "template", "spec", "containers", 0, "image")).toBe("registry.example.com:5000/demo/web:1.4.2");
    // The partial's labels came through {% render %} + nindent.
    expect(dep.metadata.labels).toMatchObject({ "app.kubernetes.io/name": "demo", "app.kubernetes.io/instance": "demo" });
    expect(renderAccess(b, ctxFor(b, resolveValues(b, {}, "inv.yaml")))).toEqual(["demo: http://demo.demo-ns.svc:8080"]);
  });

  it("renders with overrides, another release name and namespace", async () => {
    const b = await loadBundle(join(FIXTURES, "demo"));
    const values = resolveValues(b, { replicas: 4, debug: true, service: { type: "NodePort" }, extraEnv: [{ name: "X", value: "1" }] }, "inv.yaml");
    const r = renderCluster(b, ctxFor(b, values, { name: "blue", namespace: "team-a" }));
    expect(r.release).toEqual({ name: "blue", namespace: "team-a" });
    expect(r.objects.map((o) => `${o.kind}/${o.metadata.namespace}/${o.metadata.name}`)).toEqual([
      "ConfigMap/team-a/blue-config",
      "Deployment/team-a/blue",
      "Service/team-a/blue",
      "ConfigMap/team-a/blue-debug",
    ]);
    const dep = find(r.objects, "Deployment");
    expect(dig(dep, "spec", "replicas")).toBe(4);
    expect(dig(dep, "spec", "template", "spec", "containers", 0, "env")).toEqual([
      { name: "MESSAGE", value: "hello" },
      { name: "X", value: "1" },
    ]);
    expect(dig(find(r.objects, "Service"), "spec", "type")).toBe("NodePort");
    for (const o of r.objects) expect(o.metadata.labels?.["kubesmith.io/release"]).toBe("blue");
  });

  it("adds our labels to metadata.labels only: selectors and pod template labels stay as written", async () => {
    const b = await loadBundle(join(FIXTURES, "demo"));
    const r = renderCluster(b, ctxFor(b, resolveValues(b, {}, "inv.yaml")));
    const dep = find(r.objects, "Deployment");
    expect(dig(dep, "spec", "selector", "matchLabels")).toEqual({ "app.kubernetes.io/instance": "demo" });
    expect(dig(dep, "spec", "template", "metadata", "labels")).toEqual({ "app.kubernetes.io/instance": "demo" });
    expect(dig(find(r.objects, "Service"), "spec", "selector")).toEqual({ "app.kubernetes.io/instance": "demo" });
  });

  it("an undefined variable or filter is an error naming bundle, template file and line", async () => {
    const b = await loadBundle(variant({ "templates/broken.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ values.nmae }}\n" }));
    const err = caught(() => renderCluster(b, ctxFor(b, resolveValues(b, {}, "inv.yaml"))));
    expect(err).toBeInstanceOf(UsageError);
    expect(err.message).toBe("add-on demo: templates/broken.yaml:4:12: undefined variable: values.nmae");

    const b2 = await loadBundle(variant({ "templates/broken.yaml": "a: 1\nb: {{ values.port | toYml }}\n" }));
    const err2 = caught(() => renderCluster(b2, ctxFor(b2, resolveValues(b2, {}, "inv.yaml"))));
    expect(err2.message).toMatch(/^add-on demo: templates\/broken\.yaml:2:\d+: undefined filter: toYml$/);

    // A mapping printed bare would become "[object Object]": refused too.
    const b3 = await loadBundle(variant({ "templates/broken.yaml": "x: 1\n\ny: {{ values.config }}\n" }));
    expect(caught(() => renderCluster(b3, ctxFor(b3, resolveValues(b3, {}, "inv.yaml")))).message).toMatch(
      /templates\/broken\.yaml:3:\d+: a mapping printed as text/,
    );
  });

  it("invalid YAML output names the template and the rendered line", async () => {
    const b = await loadBundle(variant({ "templates/broken.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  a: {{ values.message }}\n" }));
    const err = caught(() => renderCluster(b, ctxFor(b, resolveValues(b, { message: "a: b: c" }, "inv.yaml"))));
    expect(err).toBeInstanceOf(UsageError);
    expect(err.message).toMatch(/add-on demo: templates\/broken\.yaml renders invalid YAML at rendered line 6:\d+: .* in: a: a: b: c/);
  });

  it("an object that breaks the Kubernetes schema is refused, naming bundle, kind/name and JSON path", async () => {
    const dep = readFileSync(join(FIXTURES, "demo", "templates", "deployment.yaml"), "utf8").replace("replicas: {{ values.replicas }}", 'replicas: "two"');
    const b = await loadBundle(variant({ "templates/deployment.yaml": dep }));
    const err = caught(() => renderCluster(b, ctxFor(b, resolveValues(b, {}, "inv.yaml"))));
    expect(err).toBeInstanceOf(UsageError);
    expect(err.message).toMatch(/^add-on demo \(release demo\): invalid Kubernetes object: Deployment\/demo spec\.replicas: must be integer, not "two"/);
  });

  it("refuses the latest tag and untagged images, naming the object", async () => {
    const b = await loadBundle(join(FIXTURES, "demo"));
    const values = resolveValues(b, {}, "inv.yaml");
    const ctx = ctxFor(b, values);
    const latest = caught(() => renderCluster(b, { ...ctx, images: { web: "nginx:latest" } }));
    expect(latest).toBeInstanceOf(UsageError);
    expect(latest.message).toMatch(/add-on demo: templates\/deployment\.yaml: Deployment\/demo spec\.template\.spec\.containers\[0\]\.image: image "nginx:latest" uses the tag latest/);
    const bare = caught(() => renderCluster(b, { ...ctx, images: { web: "registry:5000/nginx" } }));
    expect(bare.message).toMatch(/Deployment\/demo .*"registry:5000\/nginx" has no tag/);
    const digest = renderCluster(b, { ...ctx, images: { web: `nginx@sha256:${"a".repeat(64)}` } });
    expect(dig(find(digest.objects, "Deployment"), "spec", "template", "spec", "containers", 0, "image")).toBe(`nginx@sha256:${"a".repeat(64)}`);
  });

  it("image references: tags, ports, digests", () => {
    expect(imageProblem("quay.io/prometheus/prometheus:v3.5.0")).toBeUndefined();
    expect(imageProblem("localhost:5000/a/b:1.0")).toBeUndefined();
    expect(imageProblem("localhost:5000/a/b")).toMatch(/no tag/);
    expect(imageProblem("busybox")).toMatch(/no tag/);
    expect(imageProblem("busybox:latest")).toMatch(/latest/);
    expect(imageProblem("busybox@sha256:abc")).toMatch(/malformed digest/);
    expect(imageProblem("")).toMatch(/empty/);
  });

  it("defaults namespaces for namespaced kinds only, keeps explicit ones, knows CRD scopes", async () => {
    const extra = [
      "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: demo-reader\nrules: []",
      "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: elsewhere\n  namespace: other",
      "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: widgets.example.com\nspec:\n  group: example.com\n  scope: Cluster\n  names: { kind: Widget, plural: widgets, singular: widget, listKind: WidgetList }\n  versions:\n    - name: v1\n      served: true\n      storage: true\n      schema: { openAPIV3Schema: { type: object, x-kubernetes-preserve-unknown-fields: true } }",
      "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w1\nspec: { size: 3 }",
      "apiVersion: example.com/v1\nkind: Gadget\nmetadata:\n  name: g1",
      "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata:\n  name: fast\nprovisioner: example.com/fast",
    ].join("\n---\n");
    const b = await loadBundle(variant({ "templates/extra.yaml": `${extra}\n---\n# only a comment\n---\n` }));
    const r = renderCluster(b, ctxFor(b, resolveValues(b, {}, "inv.yaml")));
    const ns = Object.fromEntries(r.objects.map((o) => [`${o.kind}/${o.metadata.name}`, o.metadata.namespace]));
    expect(ns).toMatchObject({
      "ClusterRole/demo-reader": undefined,
      "ServiceAccount/elsewhere": "other",
      "CustomResourceDefinition/widgets.example.com": undefined,
      "Widget/w1": undefined,
      "Gadget/g1": "demo-ns",
      "StorageClass/fast": undefined,
      "Service/demo": "demo-ns",
    });
    expect(r.objects).toHaveLength(9); // the comment-only and empty documents are dropped
    for (const o of r.objects) expect(o.metadata.labels?.["kubesmith.io/addon"]).toBe("demo");
  });

  it("refuses an object rendered twice", async () => {
    const svc = readFileSync(join(FIXTURES, "demo", "templates", "service.yaml"), "utf8");
    const b = await loadBundle(variant({ "templates/zz-copy.yaml": svc }));
    expect(caught(() => renderCluster(b, ctxFor(b, resolveValues(b, {}, "inv.yaml")))).message).toMatch(
      /Service\/demo is rendered twice \(templates\/service\.yaml and templates\/zz-copy\.yaml\)/,
    );
  });
});

describe("validateObjects", () => {
  it("checks known kinds against the Kubernetes schemas and skips custom resources", () => {
    const svc: KubeObject = { apiVersion: "v1", kind: "Service", metadata: { name: "s", labels: { "kubesmith.io/addon": "x" } }, spec: { type: "Bogus", ports: [{ port: 80 }] } };
    const err = caught(() => validateObjects([svc], "release r"));
    expect(err).toBeInstanceOf(UsageError);
    expect(err.message).toMatch(/release r: invalid Kubernetes object: add-on x Service\/s spec\.type: must be one of "ClusterIP", "ExternalName", "LoadBalancer", "NodePort", not "Bogus"/);

    const missing: KubeObject = { apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "d" }, spec: { template: { spec: { containers: [{ image: "a:1" }] } } } };
    expect(caught(() => validateObjects([missing], "w")).message).toMatch(/Deployment\/d spec\.selector: is required; Deployment\/d spec\.template\.spec\.containers\[0\]\.name: is required/);

    const cr: KubeObject = { apiVersion: "example.com/v1", kind: "Widget", metadata: { name: "w" }, spec: { anything: ["goes"] } };
    const ok: KubeObject = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "c" }, data: { a: "b" } };
    expect(() => validateObjects([cr, ok], "w")).not.toThrow();
  });
});

describe("renderHosts", () => {
  it("renders each selected host's files with its own facts", async () => {
    const b = await loadBundle(join(FIXTURES, "demo-hosts"));
    const r = renderHosts(b, ctxFor(b, resolveValues(b, {}, "inv.yaml"), { name: "edge", namespace: "default" }));
    expect(Object.keys(r.files)).toEqual(["fe1", "fe2"]);
    const [conf, token] = r.files.fe2!;
    expect(conf).toMatchObject({ path: "/etc/demo/edge.conf", mode: 0o640, secret: false, restart: ["demo-daemon"] });
    expect(conf!.content).toBe("# fe2 (1)\npriority 99\npeer 198.18.0.21\n");
    expect(r.files.fe1![0]!.content).toBe("# fe1 (0)\npriority 100\npeer 198.18.0.22\n");
    expect(token).toMatchObject({ path: "/etc/demo/token", mode: 0o600, secret: true, content: "s3cret" });
    expect(r.packages).toEqual({ apt: ["demo-daemon"], dnf: ["demo-daemon"] });
    expect(r.services).toEqual(["demo-daemon"]);
    expect(() => renderCluster(b, ctxFor(b, {}))).toThrow(UsageError);
  });
});

describe("orderBundles", () => {
  const mk = (name: string, dependsOn: string[] = []): Bundle => ({
    dir: `/x/${name}`,
    manifest: { name, version: "1.0.0", description: name, target: "cluster", dependsOn },
    defaults: {},
    templates: {},
  });

  it("puts independent bundles in one level and dependencies in earlier levels", () => {
    const levels = orderBundles([mk("grafana", ["prometheus"]), mk("traefik"), mk("prometheus"), mk("hello", ["traefik", "grafana"]), mk("filebeat")]);
    expect(levels).toEqual([["filebeat", "prometheus", "traefik"], ["grafana"], ["hello"]]);
  });

  it("names a cycle and a missing dependency", () => {
    const cycle = caught(() => orderBundles([mk("a", ["b"]), mk("b", ["c"]), mk("c", ["a"]), mk("d")]));
    expect(cycle).toBeInstanceOf(UsageError);
    expect(cycle.message).toBe("add-on dependencies form a cycle: a -> b -> c -> a");
    expect(caught(() => orderBundles([mk("a", ["a"])])).message).toMatch(/a depends on itself/);
    expect(caught(() => orderBundles([mk("grafana", ["prometheus"])], { known: ["prometheus", "grafana"] })).message).toBe(
      "add-on grafana depends on prometheus, which is not enabled",
    );
    expect(caught(() => orderBundles([mk("grafana", ["prometheus"])])).message).toBe("add-on grafana depends on prometheus, which is not an add-on bundle");
  });

  it("a named subset (addons apply grafana): dependencies enabled outside it count as present, disabled ones are named", () => {
    expect(orderBundles([mk("grafana", ["prometheus"])], { known: ["prometheus", "grafana"], present: ["prometheus"] })).toEqual([["grafana"]]);
    expect(orderBundles([mk("grafana", ["prometheus"]), mk("prometheus")], { present: ["traefik"] })).toEqual([["prometheus"], ["grafana"]]);
    expect(caught(() => orderBundles([mk("grafana", ["prometheus"])], { known: ["prometheus", "grafana"], present: ["traefik"] })).message).toBe(
      "add-on grafana depends on prometheus, which is not enabled",
    );
  });
});

describe("addons remove: enabled bundles that depend on a removed one", () => {
  it("one warning per dependent that stays", async () => {
    const { dependentsWarnings } = await import("../../src/commands/addons-apply-run.js");
    const ctx = { model: { inventory: { addons: { grafana: { enabled: true }, prometheus: { enabled: true } } } } } as never;
    const w = await dependentsWarnings(ctx, ["prometheus"]);
    expect(w).toEqual(["grafana depends on prometheus, which this removes: grafana will not work until prometheus is applied again (or remove grafana too)"]);
    expect(await dependentsWarnings(ctx, ["prometheus", "grafana"])).toEqual([]);
  });
});

describe("catalog", () => {
  it("a user bundle with a built-in's name replaces it, with a warning", async () => {
    const user = join(tmp, "user-addons");
    const dir = join(user, "demo");
    cpSync(join(FIXTURES, "demo"), dir, { recursive: true });
    writeFileSync(join(dir, "addon.yaml"), readFileSync(join(dir, "addon.yaml"), "utf8").replace("version: 1.0.0", "version: 2.0.0"));
    const cat = await readCatalog({ builtinDir: FIXTURES, addonsDir: user });
    expect([...cat.bundles.keys()]).toEqual(["demo", "demo-hosts"]);
    expect(cat.bundles.get("demo")!.manifest.version).toBe("2.0.0");
    expect(cat.bundles.get("demo")!.dir).toBe(dir);
    expect(cat.user).toEqual(new Set(["demo"]));
    expect(cat.warnings).toHaveLength(1);
    expect(cat.warnings[0]).toMatch(/add-on demo: your bundle .*user-addons\/demo replaces the built-in one \(demo 1\.0\.0\)/);

    const plain = await readCatalog({ builtinDir: FIXTURES });
    expect(plain.bundles.get("demo")!.manifest.version).toBe("1.0.0");
    expect(plain.warnings).toEqual([]);
  });

  it("refuses a bundle whose name does not match its directory", async () => {
    const root = join(tmp, "misnamed");
    cpSync(join(FIXTURES, "demo"), join(root, "other"), { recursive: true });
    expect((await caughtAsync(readCatalog({ builtinDir: FIXTURES, addonsDir: root }))).message).toMatch(/name demo does not match its directory other/);
  });
});

describe("access addresses (the access lines name real addresses, not '<a frontend node>')", () => {
  it("NodePorts: the first frontend, else the first worker; host ports: the edge VIP, else the first frontend", async () => {
    const { accessAddresses } = await import("../../src/addons/context.js");
    const inv = (hosts: { name: string; address: string; roles: string[] }[], edgeVIP?: { vip: string; interface: string }) =>
      ({ cluster: { name: "c", ...(edgeVIP ? { edgeVIP } : {}) }, hosts }) as never;
    const cp = { name: "cp1", address: "203.0.113.10", roles: ["control-plane"] };
    const w = { name: "w1", address: "203.0.113.21", roles: ["worker"] };
    const fe = { name: "fe1", address: "203.0.113.31", roles: ["worker", "frontend"] };
    expect(accessAddresses(inv([cp, w, fe], { vip: "203.0.113.100", interface: "eth0" }))).toEqual({ node: "203.0.113.31", frontend: "203.0.113.100" });
    expect(accessAddresses(inv([cp, w, fe]))).toEqual({ node: "203.0.113.31", frontend: "203.0.113.31" });
    expect(accessAddresses(inv([cp, w]))).toEqual({ node: "203.0.113.21", frontend: "203.0.113.21" });
    expect(accessAddresses(inv([cp]))).toEqual({ node: "203.0.113.10", frontend: "203.0.113.10" });
  });
});
