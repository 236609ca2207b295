// The template helpers are YAML-safe by construction: hostile strings survive quote, toJson, toYaml with
// indent/nindent, and a full render, and come back from the YAML parser exactly as they went in.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { loadBundle } from "../../src/addons/catalog.js";
import { b64enc, confValue, createEngine, indentText, nindentText, renderCluster, renderText, sha256Hex, toJsonText, toYamlText, yamlQuote } from "../../src/addons/render.js";
import type { Bundle } from "../../src/addons/types.js";
import { resolveValues } from "../../src/addons/values.js";

const HOSTILE = [
  `say "hi" and 'bye'`,
  "key: value",
  "a: b: c",
  "# not a comment",
  "x #y",
  "multi\nline\n  indented\n",
  "trailing newlines\n\n",
  "{{ values.port }}",
  "{% raw %}{{ x }}{% endraw %}",
  "- dash",
  "? question",
  "yes",
  "no",
  "null",
  "~",
  "0x1F",
  "1e3",
  "007",
  "",
  " leading and trailing ",
  "tab\there",
  "back\\slash \\n",
  "@at `tick` |pipe >gt !bang &amp *star %pct",
  "[flow] {map: 1}, comma",
  "line\u2028sep\u2029para",
  "del\u007fc1\u0085\u0090",
  "bom\ufeff",
  "emoji 🎉 and ünïcödé",
  "---",
  "...",
  "'single",
  '"double',
  "\\",
];

const tmp = mkdtempSync(join(tmpdir(), "kubesmith-filters-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const scope = { s: "", obj: {} as unknown, tail: {} as unknown };
function render(bundle: Bundle, src: string, vars: Record<string, unknown>): string {
  const engine = createEngine(bundle, vars);
  return engine.parseAndRenderSync(src, vars) as string;
}

const bare: Bundle = { dir: "/x", manifest: { name: "t", version: "1.0.0", description: "t", target: "cluster" }, defaults: {}, templates: {} };

describe("filters", () => {
  it("quote, toJson and toYaml (with nindent) round-trip hostile strings through the YAML parser", () => {
    const tpl = [
      "a: {{ s | quote }}",
      "b: {{ s | toJson }}",
      "c:{{ s | toYaml | nindent: 2 }}",
      "d:{{ obj | toYaml | nindent: 2 }}",
      "e: {{ obj | toJson }}",
      "f:",
      "  - {{ s | quote }}",
      "g: |",
      "{{ obj | toYaml | indent: 2 }}",
      // Last, with nothing after it: the final scalar's line breaks must not depend on what follows.
      "h:{{ tail | toYaml | nindent: 2 }}",
    ].join("\n");
    for (const s of HOSTILE) {
      const obj = { k: s, list: [s, { [s || "empty"]: s }], n: 1 };
      const out = render(bare, tpl, { ...scope, s, obj, tail: { last: s } });
      let parsed: Record<string, unknown>;
      try {
        parsed = parseYaml(out) as Record<string, unknown>;
      } catch (err) {
        throw new Error(`hostile ${JSON.stringify(s)} broke the YAML: ${(err as Error).message}\n${out}`);
      }
      expect(parsed.a, JSON.stringify(s)).toBe(s);
      expect(parsed.b, JSON.stringify(s)).toBe(s);
      expect(parsed.c, JSON.stringify(s)).toBe(s);
      expect(parsed.d, JSON.stringify(s)).toEqual(obj);
      expect(parsed.e, JSON.stringify(s)).toEqual(obj);
      expect(parsed.f, JSON.stringify(s)).toEqual([s]);
      expect(parseYaml(parsed.g as string), JSON.stringify(s)).toEqual(obj);
      expect(parsed.h, JSON.stringify(s)).toEqual({ last: s });
    }
  });

  it("quote output is a JSON string too", () => {
    for (const s of HOSTILE) expect(JSON.parse(yamlQuote(s))).toBe(s);
    expect(yamlQuote(42)).toBe('"42"');
    expect(yamlQuote(true)).toBe('"true"');
    expect(() => yamlQuote({ a: 1 })).toThrow(/quote: expects a string/);
  });

  it("indent and nindent pad every non-empty line", () => {
    expect(indentText("a\n\n  b", 2)).toBe("  a\n\n    b");
    expect(nindentText("a\nb", 4)).toBe("\n    a\n    b");
    expect(() => indentText("a", "x")).toThrow(/number of spaces/);
    expect(() => indentText({ a: 1 }, 2)).toThrow(/toYaml first/);
  });

  it("toYaml and toJson of structures; b64enc and sha256", () => {
    expect(toYamlText({ b: [1, "two"], a: { c: null } })).toBe("b:\n  - 1\n  - two\na:\n  c: null");
    expect(toJsonText({ a: [1, "x"] })).toBe('{"a":[1,"x"]}');
    expect(() => toYamlText(undefined)).toThrow(/undefined/);
    expect(b64enc("user:pa ss")).toBe(Buffer.from("user:pa ss").toString("base64"));
    expect(sha256Hex("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    expect(sha256Hex({ a: 1 })).toBe(sha256Hex('{"a":1}'));
    expect(render(bare, "{{ x | default: 'fallback' }}|{{ y | default: 'd' }}", { y: "set" })).toBe("fallback|set");
  });

  it("a full render keeps hostile values exactly, and never evaluates template syntax inside values", async () => {
    const dir = join(tmp, "hostile");
    const { cpSync } = await import("node:fs");
    cpSync(join(import.meta.dirname, "..", "fixtures", "addons", "demo"), dir, { recursive: true });
    writeFileSync(
      join(dir, "templates", "hostile.yaml"),
      [
        "apiVersion: v1",
        "kind: ConfigMap",
        "metadata:",
        "  name: hostile",
        "  annotations:",
        "    note: {{ values.message | quote }}",
        "data:",
        "  message: {{ values.message | quote }}",
        "  config.yaml: |",
        "{{ values.config | toYaml | indent: 4 }}",
        "  config.json: {{ values.config | toJson | quote }}",
      ].join("\n"),
    );
    const b = await loadBundle(dir);
    for (const s of HOSTILE) {
      const values = resolveValues(b, { message: s, config: { s, list: [s] } }, "inv.yaml");
      const r = renderCluster(b, { values, release: { name: "r", namespace: "n" }, images: b.manifest.images ?? {}, cluster: { name: "c", podCIDR: "10.244.0.0/16", serviceCIDR: "10.96.0.0/12", hosts: [], frontendTaints: [], access: { node: "203.0.113.1", frontend: "203.0.113.1" } } });
      const cm = r.objects.find((o) => o.metadata.name === "hostile")!;
      const data = cm.data as Record<string, string>;
      expect(data.message, JSON.stringify(s)).toBe(s);
      expect(cm.metadata.annotations?.note, JSON.stringify(s)).toBe(s);
      const config = { greeting: "hi", tags: ["a", "b"], s, list: [s] };
      expect(parseYaml(data["config.yaml"]!), JSON.stringify(s)).toEqual(config);
      expect(JSON.parse(data["config.json"]!), JSON.stringify(s)).toEqual(config);
      const demo = r.objects.find((o) => o.kind === "Deployment")!;
      const env = (demo.spec as { template: { spec: { containers: { env: { value: string }[] }[] } } }).template.spec.containers[0]!.env;
      expect(env[0]!.value, JSON.stringify(s)).toBe(s);
    }
  });

  it("confval passes plain words and numbers, and refuses what a non-YAML config could read as syntax", () => {
    for (const ok of ["eth0", "bond0.100", "198.18.10.11", "/ping", "Kx7pQ2wZ", "edge-check.local", "a_b@c"]) expect(confValue(ok)).toBe(ok);
    expect(confValue(251)).toBe("251");
    expect(confValue(-100)).toBe("-100");
    const refused: Array<[string, RegExp]> = [
      ['eth0\n}\nvrrp_script pwn {\n script "/bin/touch /tmp/pwned"\n', /holds a line break/],
      ["a\rb", /holds a carriage return/],
      ["a\0b", /holds a NUL/],
      ["a\u001b[31mb", /holds the control character \\x1b/],
      ["a\u0085b", /holds the control character \\x85/],
      ["a\u202eb", /holds the character \\u202e/],
      ["eth0 dev lo", /holds a blank/],
      ["a\tb", /holds a tab/],
      ['a"b', /holds '"'/],
      ["a'b", /holds '''/],
      ["a{b", /holds '\{'/],
      ["a}b", /holds '\}'/],
      ["a#b", /holds '#'/],
      ["a!b", /holds '!'/],
      ["a\\b", /holds '\\'/],
      ["", /is empty/],
    ];
    for (const [v, re] of refused) expect(() => confValue(v, "vip.interface"), JSON.stringify(v)).toThrow(re);
    expect(() => confValue({ a: 1 })).toThrow(/a mapping, not text/);
    expect(() => confValue(undefined)).toThrow(/null, not text/);
    // The value is named and shown escaped, never raw, and cut when long.
    expect(() => confValue("eth0\nx", "vip.interface")).toThrow('confval: vip.interface = "eth0\\nx" holds a line break');
    expect(() => confValue(`${"a".repeat(200)} b`, "x")).toThrow(/"a{80}…" \(202 characters\)/);
  });

  it("confval in a template: the render error names the bundle, the template, its line and the value's expression", () => {
    const b = { manifest: { name: "demo", version: "1.0.0", description: "d", target: "hosts" }, templates: {}, defaults: {}, dir: "/x" } as unknown as Bundle;
    const engine = createEngine(b);
    const text = "global_defs {\n}\nvrrp_instance x {\n    interface {{ vip.interface | confval }}\n}\n";
    expect(renderText(engine, b, "keepalived.conf", text, { vip: { interface: "eth0" } })).toContain("interface eth0\n");
    expect(() => renderText(engine, b, "keepalived.conf", text, { vip: { interface: "eth0\n}\nvrrp_script pwn {" } })).toThrow(
      /^add-on demo: templates\/keepalived\.conf:4:\d+: confval: vip\.interface = "eth0\\n}\\nvrrp_script pwn \{" holds a line break/,
    );
  });
});
