// Reading an inventory: file -> YAML (with positions) -> ${VAR} substitution -> zod schema -> cross-field
// rules -> paths made absolute. Every problem found is reported at once, each with file:line:column.
import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { type Document, isAlias, isMap, isScalar, isSeq, LineCounter, type Node, parseDocument, type Scalar, type YAMLError } from "yaml";
import { InventoryError, type InventoryIssue } from "../errors.js";
import { runSecrets } from "../util/secrets.js";
import { checkRules } from "./rules.js";
import { type Inventory, InventorySchema, type SshDefaults } from "./schema.js";
import { firstUnsafe, safeIssue, showName } from "./show.js";
import { type FieldPath, formatPath, type SourceLookup, YamlSource } from "./source.js";
import { describeZodIssues } from "./zod-issues.js";

export interface LoadedInventory {
  /** Absolute path of the inventory file. */
  file: string;
  /** Validated, defaults applied; identityFile/knownHostsFile/agent paths made absolute (~ expanded,
   *  relative paths taken from the inventory file's directory). */
  inventory: Inventory;
  warnings: InventoryIssue[];
  /** Every value of a secret field that came from ${VAR}; already added to the run's secrets (util/secrets.ts). */
  secrets: string[];
  /** Positions in the file, for checks made after loading (the add-on values). */
  source: SourceLookup;
}

export interface LoadOptions {
  env?: NodeJS.ProcessEnv;
}

/** Reads and validates an inventory file; throws InventoryError listing every problem. */
export async function loadInventory(file: string, opts: LoadOptions = {}): Promise<LoadedInventory> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const issue: InventoryIssue =
      code === "ENOENT"
        ? {
            file,
            path: "",
            message: "inventory file not found",
            hint: "pass -i FILE or set KUBESMITH_INVENTORY; inventories/example.yaml is a starting point",
          }
        : code === "EISDIR"
          ? { file, path: "", message: "is a directory, not an inventory file", hint: "pass -i path/to/inventory.yaml" }
          : {
              file,
              path: "",
              message: `cannot read the inventory file (${code ?? (err as Error).message})`,
              hint: "check its permissions",
            };
    throw new InventoryError([issue]);
  }
  return parseInventory(text, file, opts.env ?? process.env);
}

const VAR_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

interface Substitution {
  value: string;
  /** Values taken from the environment. */
  used: string[];
  missing: string[];
  malformed: string[];
}

/** Replaces ${NAME} with env[NAME]; $${ is a literal ${. Any other $ stays as it is. */
export function substituteEnv(text: string, env: NodeJS.ProcessEnv): Substitution {
  const out: Substitution = { value: "", used: [], missing: [], malformed: [] };
  let i = 0;
  while (i < text.length) {
    if (text.startsWith("$${", i)) {
      out.value += "${";
      i += 3;
    } else if (text.startsWith("${", i)) {
      const end = text.indexOf("}", i + 2);
      const name = end < 0 ? undefined : text.slice(i + 2, end);
      if (name === undefined || !VAR_NAME.test(name)) {
        out.malformed.push(end < 0 ? text.slice(i, i + 20) : text.slice(i, end + 1));
        out.value += "${";
        i += 2;
        continue;
      }
      const v = env[name];
      if (v === undefined) {
        // Keep the reference as a stand-in so validation can go on and report everything else.
        out.missing.push(name);
        out.value += text.slice(i, end + 1);
      } else {
        out.value += v;
        out.used.push(v);
      }
      i = end + 1;
    } else {
      out.value += text[i];
      i++;
    }
  }
  return out;
}

/** Calls fn for every scalar value (not keys) with its field path. Aliases are visited where anchored. */
function eachScalar(node: unknown, path: Array<string | number>, fn: (s: Scalar, path: FieldPath) => void): void {
  if (isAlias(node)) return;
  if (isMap(node)) {
    for (const pair of node.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : "?";
      eachScalar(pair.value, [...path, key], fn);
    }
  } else if (isSeq(node)) {
    node.items.forEach((item, i) => eachScalar(item, [...path, i], fn));
  } else if (isScalar(node)) {
    fn(node, path);
  }
}

/** The field path of the map key that starts at `offset`, if any (for duplicate-key errors). */
function keyPathAt(doc: Document, offset: number): { path: FieldPath; key: string; firstOffset?: number } | undefined {
  let found: { path: FieldPath; key: string; firstOffset?: number } | undefined;
  const walk = (node: unknown, path: Array<string | number>) => {
    if (found || isAlias(node)) return;
    if (isMap(node)) {
      for (const pair of node.items) {
        const k = isScalar(pair.key) ? String(pair.key.value) : "?";
        if ((pair.key as Node | null)?.range?.[0] === offset) {
          const first = node.items.find((p) => isScalar(p.key) && String(p.key.value) === k);
          const firstOffset = (first?.key as Node | undefined)?.range?.[0];
          found = { path: [...path, k], key: k, ...(firstOffset !== undefined ? { firstOffset } : {}) };
          return;
        }
        walk(pair.value, [...path, k]);
      }
    } else if (isSeq(node)) node.items.forEach((it, i) => walk(it, [...path, i]));
  };
  walk(doc.contents, []);
  return found;
}

function yamlIssue(err: YAMLError, src: YamlSource, doc: Document): InventoryIssue {
  const pos = src.positionOf(err.pos[0]);
  const base = { file: src.file, line: pos.line, column: pos.column, path: "" };
  switch (err.code) {
    case "DUPLICATE_KEY": {
      const k = keyPathAt(doc, err.pos[0]);
      const first = k?.firstOffset !== undefined ? src.positionOf(k.firstOffset).line : undefined;
      return {
        ...base,
        path: k ? formatPath(k.path) : "",
        message: `duplicate key${k ? ` '${k.key}'` : ""}`,
        hint: `a key may appear once per mapping${first !== undefined ? `; it is first set at line ${first}` : ""}`,
      };
    }
    case "MULTIPLE_DOCS":
      return { ...base, message: "the file holds more than one YAML document", hint: "an inventory is one document; remove the extra ---" };
    case "TAB_AS_INDENT":
      return { ...base, message: "YAML syntax error: tabs are not allowed as indentation", hint: "indent with spaces" };
    default: {
      const msg = err.message.replace(/\s*at line \d+, column \d+.*$/s, "");
      return { ...base, message: `YAML syntax error: ${msg.charAt(0).toLowerCase()}${msg.slice(1)}` };
    }
  }
}

function byPosition(a: InventoryIssue, b: InventoryIssue): number {
  return (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0);
}

function resolvePaths(inv: Inventory, baseDir: string, home: string): void {
  const fix = (p: string) =>
    p === "~" ? home : p.startsWith("~/") ? join(home, p.slice(2)) : isAbsolute(p) ? p : resolve(baseDir, p);
  const fixBlock = (b: Partial<SshDefaults> | undefined) => {
    if (!b) return;
    if (b.identityFile) b.identityFile = fix(b.identityFile);
    if (b.knownHostsFile) b.knownHostsFile = fix(b.knownHostsFile);
    if (typeof b.agent === "string") b.agent = fix(b.agent);
    if (b.bastion) fixBlock(b.bastion);
  };
  fixBlock(inv.ssh);
  for (const h of inv.hosts) fixBlock(h.ssh);
}

/**
 * Parses and validates inventory text. `file` is used in messages as given and, made absolute, as the
 * base for relative paths. Pure apart from reading `env`; throws InventoryError with every problem.
 */
export function parseInventory(text: string, file: string, env: NodeJS.ProcessEnv = process.env): LoadedInventory {
  try {
    const loaded = parseChecked(text, file, env);
    return { ...loaded, warnings: loaded.warnings.map(safeIssue) };
  } catch (err) {
    if (err instanceof InventoryError) throw new InventoryError(dedupe(err.issues.map(safeIssue)));
    // A structure deep enough to exhaust the stack in a later stage than the checks below foresee.
    if (err instanceof RangeError && /call stack/i.test(err.message)) {
      throw new InventoryError([{ file, path: "", message: TOO_DEEP, hint: TOO_DEEP_HINT }]);
    }
    throw err;
  }
}

/** Deeper than this, a mapping or list is refused: an inventory needs a handful of levels. */
export const MAX_DEPTH = 64;
const TOO_DEEP = `the file is too deeply nested (more than ${MAX_DEPTH} levels of mappings and lists)`;
const TOO_DEEP_HINT = "an inventory needs only a few levels; check for unclosed [ or {";

/** The same line once. */
function dedupe(issues: InventoryIssue[]): InventoryIssue[] {
  const seen = new Set<string>();
  return issues.filter((i) => {
    const k = JSON.stringify([i.line, i.column, i.path, i.message, i.hint]);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** The first node nested deeper than MAX_DEPTH, without recursion (the structure may be very deep). */
function tooDeep(root: unknown): Node | undefined {
  const stack: Array<[unknown, number]> = [[root, 0]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (!isMap(node) && !isSeq(node)) continue;
    if (depth >= MAX_DEPTH) return node;
    for (const item of node.items) {
      if (isMap(node)) stack.push([(item as { value?: unknown }).value, depth + 1]);
      else stack.push([item, depth + 1]);
    }
  }
  return undefined;
}

/**
 * Strings (keys and values) holding control characters, bidi overrides or line separators: none belongs in
 * an inventory, and each would reach a command line, a config file or a terminal. Add-on values are left
 * to their bundle's schema and to the renderer's confval filter (a bundle may take multi-line text).
 */
function unsafeStrings(value: unknown, path: Array<string | number>, out: Array<{ path: FieldPath; message: string; atKey: boolean }>): void {
  const stack: Array<[unknown, Array<string | number>]> = [[value, path]];
  while (stack.length > 0) {
    const [v, p] = stack.pop()!;
    if (p.length === 3 && p[0] === "addons" && p[2] === "values") continue;
    if (typeof v === "string") {
      const bad = firstUnsafe(v);
      if (bad) out.push({ path: p, message: `contains the control character ${bad.escaped} (at character ${bad.index + 1}); no inventory value may hold control characters, line breaks or bidi overrides`, atKey: false });
    } else if (Array.isArray(v)) {
      v.forEach((item, i) => stack.push([item, [...p, i]]));
    } else if (v !== null && typeof v === "object") {
      for (const [k, item] of Object.entries(v)) {
        const bad = firstUnsafe(k);
        if (bad) {
          out.push({ path: [...p, k], message: `the key '${showName(k)}' contains the control character ${bad.escaped}; keys may not hold control characters, line breaks or bidi overrides`, atKey: true });
          continue;
        }
        stack.push([item, [...p, k]]);
      }
    }
  }
}

function parseChecked(text: string, file: string, env: NodeJS.ProcessEnv): LoadedInventory {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, merge: true, uniqueKeys: true });
  const src = new YamlSource(file, doc, lines);
  const issue = (path: FieldPath, message: string, hint?: string, at?: "key" | "value"): InventoryIssue => {
    const pos = at === "key" ? src.keyPos(path) : src.pos(path);
    return {
      file,
      ...(pos ? { line: pos.line, column: pos.column } : {}),
      path: formatPath(path),
      message,
      ...(hint ? { hint } : {}),
    };
  };

  if (doc.errors.length > 0) {
    // The parser reports running out of stack once per level it unwinds: say it once, as what it is.
    const deep = doc.errors.filter((e) => /call stack/i.test(e.message));
    const rest = doc.errors.filter((e) => !deep.includes(e)).map((e) => yamlIssue(e, src, doc));
    if (deep[0]) {
      const pos = src.positionOf(deep[0].pos[0]);
      rest.push({ file, line: pos.line, column: pos.column, path: "", message: TOO_DEEP, hint: TOO_DEEP_HINT });
    }
    throw new InventoryError(rest.sort(byPosition));
  }
  const deepNode = tooDeep(doc.contents);
  if (deepNode) {
    const start = deepNode.range?.[0];
    const pos = start === undefined ? undefined : src.positionOf(start);
    throw new InventoryError([{ file, ...(pos ? { line: pos.line, column: pos.column } : {}), path: "", message: TOO_DEEP, hint: TOO_DEEP_HINT }]);
  }
  if (!isMap(doc.contents)) {
    const empty = doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null);
    throw new InventoryError([
      {
        ...issue([], empty ? "the inventory is empty" : "the inventory must be a mapping with cluster: and hosts:"),
        hint: "see inventories/example.yaml",
      },
    ]);
  }

  // ${VAR} substitution, in place on the YAML nodes so positions stay valid.
  const issues: InventoryIssue[] = [];
  const badPaths: string[] = [];
  const secrets = new Set<string>();
  eachScalar(doc.contents, [], (scalar, path) => {
    if (typeof scalar.value !== "string" || !scalar.value.includes("$")) return;
    const raw = scalar.value;
    const sub = substituteEnv(raw, env);
    for (const name of sub.missing) {
      issues.push(issue(path, `environment variable ${name} is not set`, `export ${name}=… before running`));
    }
    for (const ref of sub.malformed) {
      issues.push(
        issue(path, `'${ref}' is not a valid \${VAR} reference`, "a name is letters, digits and _; write $${ for a literal ${"),
      );
    }
    if (sub.missing.length > 0 || sub.malformed.length > 0) badPaths.push(formatPath(path));
    // Only values of secret-looking fields are redacted from logs: redacting an address or a port that
    // came from ${VAR} would blank out every log line that mentions it.
    if (isSecretField(path)) for (const v of sub.used) if (v !== "") secrets.add(v);
    scalar.value = sub.value;
    if (/^\$\{[A-Za-z_][A-Za-z0-9_]*\}$/.test(raw)) src.envScalars.add(scalar);
  });
  // They join the run's one list of secrets at once: every log, event and error from here on redacts them.
  runSecrets.add(...secrets);

  let input: unknown;
  try {
    input = doc.toJS({ maxAliasCount: 1000 });
  } catch (err) {
    throw new InventoryError([issue([], `cannot expand the YAML aliases: ${(err as Error).message}`)]);
  }

  // Control characters anywhere (outside add-on values): reported once per field, and the field's other
  // checks are skipped (their messages would only repeat the bad value).
  const unsafe: Array<{ path: FieldPath; message: string; atKey: boolean }> = [];
  unsafeStrings(input, [], unsafe);
  for (const u of unsafe) {
    issues.push({ ...issue(u.path, u.message, undefined, u.atKey ? "key" : "value"), path: formatPath(u.path) });
    badPaths.push(formatPath(u.path));
  }

  // A field whose ${VAR} failed is already reported; its empty stand-in would only add noise.
  const tainted = (ps: string) => badPaths.some((b) => ps === b || ps.startsWith(`${b}.`) || ps.startsWith(`${b}[`));
  const parsed = InventorySchema.safeParse(input);
  if (!parsed.success) {
    for (const p of describeZodIssues(parsed.error.issues, InventorySchema, input)) {
      const ps = formatPath(p.path);
      if (tainted(ps)) continue;
      const at = p.missing ? p.path.slice(0, -1) : p.path;
      const i = issue(at, p.message, p.hint, p.atKey ? "key" : "value");
      issues.push({ ...i, path: ps });
    }
    throw new InventoryError(issues.sort(byPosition));
  }

  // Cross-field rules need a schema-valid inventory; they run even when a ${VAR} was missing, so that
  // one run reports everything.
  const inventory = parsed.data;
  const { errors, warnings } = checkRules(inventory, src);
  issues.push(...errors.filter((e) => !tainted(e.path)));
  if (issues.length > 0) throw new InventoryError(issues.sort(byPosition));

  resolvePaths(inventory, dirname(resolve(file)), env.HOME ?? homedir());
  return { file: resolve(file), inventory, warnings: warnings.sort(byPosition), secrets: [...secrets], source: src };
}

/** A field whose value is a credential: password, passphrase, token, secret, apiKey … (any level). */
export function isSecretField(path: ReadonlyArray<string | number>): boolean {
  const last = [...path].reverse().find((p): p is string => typeof p === "string");
  return last !== undefined && /(password|passphrase|secret|token|apikey|api_key|credentials?)$/i.test(last);
}
