// The built-in bundles' values validators generated at build time (src/addons/precompiled.ts) must judge
// values exactly as ajv compiling the schema at run time does: same verdict, same errors (which become the
// inventory issues users read), and a schema that changed since the build must not use a stale validator.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { dialectOf, newAjv, precompiledValidator, withoutId, writePrecompiled } from "../../src/addons/precompiled.js";
import { packageRoot } from "../../src/util/pkg.js";

const addons = join(packageRoot(), "addons");
// Inside the package, as dist/ is: the generated code requires ajv's runtime helpers from node_modules.
const out = mkdtempSync(join(packageRoot(), ".test-precompiled-"));
afterAll(() => rmSync(out, { recursive: true, force: true }));
const written = writePrecompiled(addons, out);
const bundles = readdirSync(addons).filter((n) => {
  try {
    readFileSync(join(addons, n, "values.schema.json"));
    return true;
  } catch {
    return false;
  }
});
const schemaOf = (n: string) => JSON.parse(readFileSync(join(addons, n, "values.schema.json"), "utf8")) as Record<string, unknown>;

/** Values that break each kind of rule: wrong types, unknown keys, out-of-range numbers, bad patterns. */
const bad: unknown[] = [
  null,
  "x",
  { unknownKey: 1 },
  { mode: "nope", service: { webNodePort: 80 }, hostPorts: { web: 70000 }, dashboard: { user: "bad user", password: "short" } },
  { vip: "999.1.1.1", interface: 3, virtualRouterId: 0, nodeSelector: { "bad key!": 1 } },
  { resources: { requests: { cpu: "lots", memory: "1XB" } }, replicas: -1, retention: "forever" },
];

describe("precompiled values validators", () => {
  it("one validator per built-in bundle with a values schema", () => {
    expect(bundles.length).toBeGreaterThan(0);
    expect(written).toBe(bundles.length);
  });

  for (const name of bundles) {
    it(`${name}: the generated validator gives ajv's verdict and errors`, () => {
      const schema = schemaOf(name);
      const pre = precompiledValidator(schema, out);
      expect(pre).toBeTypeOf("function");
      const live = newAjv(dialectOf(schema)).compile(withoutId(schema));
      const defaults = {};
      for (const v of [defaults, ...bad]) {
        const a = live(v);
        const b = pre!(v);
        expect(b).toBe(a);
        expect(JSON.stringify(pre!.errors ?? null)).toBe(JSON.stringify(live.errors ?? null));
      }
    });
  }

  it("a schema changed after the build has no precompiled validator (it is compiled at run time)", () => {
    const schema = schemaOf(bundles[0]!);
    expect(precompiledValidator(schema, out)).toBeTypeOf("function");
    expect(precompiledValidator({ ...schema, description: "edited after the build" }, out)).toBeUndefined();
    // $id is not part of what is compiled, so it does not change the key
    expect(precompiledValidator({ ...schema, $id: "https://example.com/other" }, out)).toBeTypeOf("function");
  });
});

// The built-in bundles' addon.yaml and values.yaml parsed at build time (catalog.ts parsedBuiltin): used only
// while a file's text is the one the build saw; the values equal a fresh parse.
describe("parsed built-in bundle files", () => {
  it("the build's parse is the parse of today's text, and only for that text and that file", async () => {
    const { parsedBuiltin, writeParsedBuiltins } = await import("../../src/addons/catalog.js");
    const { parse } = await import("yaml");
    const file = join(out, "parsed.json");
    const n = writeParsedBuiltins(addons, file);
    const cache = new Map(Object.entries(JSON.parse(readFileSync(file, "utf8")) as Record<string, { text: string; value: unknown }>));
    expect(cache.size).toBe(n);
    // every bundle with an addon.yaml, both files
    const withManifest = readdirSync(addons).filter((b) => cache.has(join("addons", b, "addon.yaml")));
    expect(withManifest.length).toBeGreaterThan(3);
    for (const [key, { text, value }] of cache) {
      expect(text).toBe(readFileSync(join(packageRoot(), key), "utf8"));
      if (key.endsWith("values.yaml")) expect(value).toEqual(parse(text));
      else expect(value).toMatchObject({ name: (parse(text) as { name: string }).name });
    }
    const hello = join(addons, withManifest[0]!, "addon.yaml");
    const text = readFileSync(hello, "utf8");
    const hit = parsedBuiltin(hello, text, cache) as { name: string };
    expect(hit).toEqual(cache.get(join("addons", withManifest[0]!, "addon.yaml"))!.value);
    // a copy: changing it leaves the next answer alone
    hit.name = "changed";
    expect((parsedBuiltin(hello, text, cache) as { name: string }).name).not.toBe("changed");
    // another text (a bundle edited after the build) or another file: not from the build
    expect(parsedBuiltin(hello, `${text}\n# edited\n`, cache)).toBeUndefined();
    expect(parsedBuiltin(join(out, "addon.yaml"), text, cache)).toBeUndefined();
  });
});
