// The add-on catalog: bundles read from disk. Built-in bundles live in <package root>/addons/<name>/;
// a user's --addons-dir holds more in the same format (or is itself one bundle), and a user bundle with
// a built-in's name replaces it (with a warning). Reading a bundle checks its metadata (zod), parses its
// default values and compiles its values schema, so a broken bundle is refused before anything renders.
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { basename, join, relative } from "node:path";
import { LineCounter, parseDocument } from "yaml";
import { z } from "zod";
import { parseKubeRange } from "../util/kube-range.js";
import { UsageError } from "../errors.js";
import { formatPath, YamlSource } from "../inventory/source.js";
import { packageRoot } from "../util/pkg.js";
import { imageProblem } from "./images.js";
import type { AddonManifest, Bundle } from "./types.js";
import { compileValuesSchema } from "./values.js";

const dnsLabel = z
  .string()
  .max(63)
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, { error: "must be lower-case letters, digits and '-' (a DNS label)" });

const image = z.string().superRefine((s, ctx) => {
  const problem = imageProblem(s);
  if (problem) ctx.addIssue({ code: "custom", message: problem });
});

const FileSchema = z.strictObject({
  template: z.string().min(1),
  path: z.string().regex(/^\//, { error: "must be an absolute path" }),
  mode: z
    .string()
    .regex(/^0?[0-7]{3,4}$/, { error: "must be an octal mode like 0644" })
    .optional(),
  secret: z.boolean().optional(),
  validate: z.string().min(1).optional(),
  restart: z.array(z.string().min(1)).optional(),
});

/** addon.yaml. Strict: an unknown field is a typo until types.ts says otherwise. */
export const AddonManifestSchema = z.strictObject({
  name: dnsLabel,
  version: z.string().regex(/^\d+\.\d+\.\d+([-+][0-9A-Za-z.-]+)?$/, { error: "must be a version like 1.2.3" }),
  description: z.string().min(1),
  target: z.enum(["cluster", "hosts"]),
  namespace: dnsLabel.optional(),
  kubernetes: z
    .string()
    .superRefine((s, ctx) => {
      try {
        parseKubeRange(s);
      } catch (e) {
        ctx.addIssue({ code: "custom", message: `range ${(e as Error).message}` });
      }
    })
    .optional(),
  dependsOn: z.array(dnsLabel).optional(),
  images: z.record(z.string(), image).optional(),
  hosts: z.strictObject({ role: z.enum(["control-plane", "worker", "frontend"]) }).optional(),
  packages: z.strictObject({ apt: z.array(z.string().min(1)).optional(), dnf: z.array(z.string().min(1)).optional() }).optional(),
  services: z.array(z.string().min(1)).optional(),
  files: z.array(FileSchema).optional(),
  access: z.array(z.string()).optional(),
  enabledByDefault: z.boolean().optional(),
  clusterScopedKinds: z.array(z.string().min(1)).optional(),
});

// Compile-time check that the zod schema and the contract in types.ts agree.
type SchemaOut = z.infer<typeof AddonManifestSchema>;
const _sameShape: (m: SchemaOut) => AddonManifest = (m) => m;
void _sameShape;

/** A file's text, undefined when it does not exist. Synchronous: the bundle files are small (issue 12). */
function readText(file: string): string | undefined {
  try {
    return readFileSync(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new UsageError(`${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

/**
 * The built-in bundles' addon.yaml and values.yaml as the build parsed them (dist/addons/parsed.json,
 * written by `npm run build` through writeParsedBuiltins): a file whose text is the one the build saw is not
 * parsed again (YAML and the manifest schema: ≈ 15 ms of `inventory validate`, issue 12). Keyed by the path
 * inside the package; any other text, or a file elsewhere, is parsed as always.
 */
type ParsedFile = { text: string; value: unknown };
let parsedBuiltins: Map<string, ParsedFile> | undefined;

export function parsedBuiltinsFile(root = packageRoot()): string {
  return join(root, "dist", "addons", "parsed.json");
}

function loadParsedBuiltins(): Map<string, ParsedFile> {
  if (parsedBuiltins === undefined) {
    try {
      parsedBuiltins = new Map(Object.entries(JSON.parse(readFileSync(parsedBuiltinsFile(), "utf8")) as Record<string, ParsedFile>));
    } catch {
      parsedBuiltins = new Map();
    }
  }
  return parsedBuiltins;
}

/** The build's parse of `file` when its text is still `text` (a copy: callers may change it), else undefined. */
export function parsedBuiltin(file: string, text: string, cache = loadParsedBuiltins()): unknown {
  const hit = cache.get(relative(packageRoot(), file));
  return hit !== undefined && hit.text === text ? structuredClone(hit.value) : undefined;
}

/** Parse a YAML file; the first syntax error becomes a UsageError with file:line:column. */
function parseYamlFile(text: string, file: string): { value: unknown; source: YamlSource } {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  const err = doc.errors[0];
  if (err) {
    const { line, col } = lines.linePos(err.pos[0]);
    throw new UsageError(`${file}:${line}:${col}: ${err.message.split("\n")[0]}`);
  }
  return { value: doc.toJS({ maxAliasCount: 100 }) as unknown, source: new YamlSource(file, doc, lines) };
}

function parseManifestFile(text: string, file: string, cached = true): AddonManifest {
  const hit = cached ? parsedBuiltin(file, text) : undefined;
  if (hit !== undefined) return hit as AddonManifest;
  const { value, source } = parseYamlFile(text, file);
  const res = AddonManifestSchema.safeParse(value ?? {});
  if (res.success) return res.data;
  const issue = res.error.issues[0]!;
  let path: (string | number)[] = issue.path.filter((p): p is string | number => typeof p !== "symbol");
  let message = issue.message;
  if (issue.code === "unrecognized_keys") {
    path = [...path, issue.keys[0]!];
    message = `unknown field (known: ${Object.keys(AddonManifestSchema.shape).join(", ")})`;
  } else if (issue.code === "invalid_type" && issue.input === undefined) {
    message = "is required";
  }
  const pos = issue.code === "unrecognized_keys" ? source.keyPos(path) : source.pos(path);
  const at = pos ? `:${pos.line}:${pos.column}` : "";
  const more = res.error.issues.length > 1 ? ` (and ${res.error.issues.length - 1} more problem(s))` : "";
  throw new UsageError(`${file}${at}: ${formatPath(path) || "(top level)"}: ${message}${more}`);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function templateNames(templatesDir: string): string[] {
  try {
    return readdirSync(templatesDir, { withFileTypes: true }).filter((e) => e.isFile()).map((e) => e.name);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw new UsageError(`${templatesDir}: cannot read (${(err as Error).message})`);
    return [];
  }
}

/** Read one bundle directory: addon.yaml, values.yaml, values.schema.json (optional), templates/*. */
export async function loadBundle(dir: string): Promise<Bundle> {
  const manifestFile = join(dir, "addon.yaml");
  const valuesFile = join(dir, "values.yaml");
  const schemaFile = join(dir, "values.schema.json");
  const templatesDir = join(dir, "templates");
  const manifestText = readText(manifestFile);
  if (manifestText === undefined) throw new UsageError(`${dir}: not an add-on bundle (no addon.yaml)`);
  const manifest = parseManifestFile(manifestText, manifestFile);

  const valuesText = readText(valuesFile);
  let defaults: Record<string, unknown> = {};
  if (valuesText !== undefined) {
    const hit = parsedBuiltin(valuesFile, valuesText);
    const value = hit !== undefined ? hit : parseYamlFile(valuesText, valuesFile).value;
    if (value !== null && value !== undefined && !isPlainObject(value)) throw new UsageError(`${valuesFile}: must be a mapping of values`);
    defaults = (value ?? {}) as Record<string, unknown>;
  }

  const schemaText = readText(schemaFile);
  let schema: Record<string, unknown> | undefined;
  if (schemaText !== undefined) {
    try {
      schema = JSON.parse(schemaText) as Record<string, unknown>;
    } catch (err) {
      throw new UsageError(`${schemaFile}: not valid JSON (${(err as Error).message})`);
    }
    if (!isPlainObject(schema)) throw new UsageError(`${schemaFile}: must be a JSON Schema object`);
  }

  const templates: Record<string, string> = {};
  for (const name of templateNames(templatesDir).sort()) templates[name] = readText(join(templatesDir, name)) ?? "";

  for (const [i, f] of (manifest.files ?? []).entries()) {
    if (!(f.template in templates))
      throw new UsageError(`${manifestFile}: files[${i}].template: no template ${f.template} in ${relative(process.cwd(), templatesDir) || templatesDir}`);
  }

  const bundle: Bundle = { dir, manifest, defaults, templates };
  if (schema) bundle.schema = schema;
  compileValuesSchema(bundle, schemaFile);
  return bundle;
}

/**
 * `npm run build`: the built-in bundles' addon.yaml (as the manifest schema gives it back) and values.yaml,
 * parsed, with their texts, into `out` (see parsedBuiltin). Returns how many files.
 */
export function writeParsedBuiltins(addonsDir: string, out: string, root = packageRoot()): number {
  const files: Record<string, ParsedFile> = {};
  for (const name of readdirSync(addonsDir).sort()) {
    const manifestFile = join(addonsDir, name, "addon.yaml");
    const valuesFile = join(addonsDir, name, "values.yaml");
    const manifestText = readText(manifestFile);
    if (manifestText === undefined) continue;
    files[relative(root, manifestFile)] = { text: manifestText, value: parseManifestFile(manifestText, manifestFile, false) };
    const valuesText = readText(valuesFile);
    if (valuesText !== undefined) files[relative(root, valuesFile)] = { text: valuesText, value: parseYamlFile(valuesText, valuesFile).value };
  }
  writeFileSync(out, `${JSON.stringify(files)}\n`);
  return Object.keys(files).length;
}

/** The directory of the built-in bundles. */
export function builtinAddonsDir(): string {
  return join(packageRoot(), "addons");
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function exists(p: string): boolean {
  try {
    statSync(p);
    return true;
  } catch {
    return false;
  }
}

/** Every bundle in a directory of bundles (subdirectories holding an addon.yaml), or the directory itself when it is one. */
export async function loadBundlesIn(root: string): Promise<Bundle[]> {
  if (exists(join(root, "addon.yaml"))) return [await loadBundle(root)];
  const entries = readdirSync(root, { withFileTypes: true });
  const out: Bundle[] = [];
  // in name order, so the first problem reported is the first bundle's
  const dirs = entries.filter((x) => x.isDirectory()).sort((a, b) => a.name.localeCompare(b.name));
  for (const e of dirs) {
    const dir = join(root, e.name);
    if (!exists(join(dir, "addon.yaml"))) continue; // data only (e.g. calico's manifest), not a bundle
    const b = await loadBundle(dir);
    if (b.manifest.name !== e.name)
      throw new UsageError(`${join(dir, "addon.yaml")}: name ${b.manifest.name} does not match its directory ${e.name}`, {
        hint: "rename one so they agree",
      });
    out.push(b);
  }
  return out;
}

export interface CatalogOptions {
  /** The user's bundles (--addons-dir). */
  addonsDir?: string;
  /** Built-in bundles; default <package root>/addons. Tests point it elsewhere. */
  builtinDir?: string;
  /** Where warnings go (a user bundle replacing a built-in one); default stderr. */
  onWarning?: (message: string) => void;
}

export interface Catalog {
  bundles: Map<string, Bundle>;
  warnings: string[];
  /** Names that came from the user's directory. */
  user: Set<string>;
}

/** Built-in bundles plus the user's; returns the warnings instead of printing them. */
export async function readCatalog(opts: Omit<CatalogOptions, "onWarning"> = {}): Promise<Catalog> {
  const bundles = new Map<string, Bundle>();
  const warnings: string[] = [];
  const user = new Set<string>();
  const builtin = opts.builtinDir ?? builtinAddonsDir();
  if (isDir(builtin)) for (const b of await loadBundlesIn(builtin)) bundles.set(b.manifest.name, b);
  if (opts.addonsDir !== undefined) {
    if (!isDir(opts.addonsDir)) throw new UsageError(`--addons-dir ${opts.addonsDir}: not a directory`);
    const seen = new Map<string, string>();
    for (const b of await loadBundlesIn(opts.addonsDir)) {
      const name = b.manifest.name;
      const twice = seen.get(name);
      if (twice) throw new UsageError(`${b.dir}: a second bundle named ${name} in --addons-dir (the first is ${twice})`);
      seen.set(name, b.dir);
      const replaced = bundles.get(name);
      if (replaced)
        warnings.push(`add-on ${name}: your bundle ${b.dir} replaces the built-in one (${basename(replaced.dir)} ${replaced.manifest.version})`);
      bundles.set(name, b);
      user.add(name);
    }
  }
  return { bundles: new Map([...bundles].sort(([a], [b]) => a.localeCompare(b))), warnings, user };
}

/** Built-in bundles plus the user's (--addons-dir), by name; a user bundle replaces a built-in of the same name. */
export async function loadCatalog(opts: CatalogOptions = {}): Promise<Map<string, Bundle>> {
  const cat = await readCatalog(opts);
  const warn = opts.onWarning ?? ((m: string) => process.stderr.write(`warning: ${m}\n`));
  for (const w of cat.warnings) warn(w);
  return cat.bundles;
}

/** One bundle of the catalog, or a UsageError naming what there is. */
export function getBundle(catalog: Map<string, Bundle>, name: string): Bundle {
  const b = catalog.get(name);
  if (!b) throw new UsageError(`no add-on bundle named ${name}`, { hint: `known: ${[...catalog.keys()].join(", ") || "none"}` });
  return b;
}
