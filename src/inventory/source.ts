// Where things are in the inventory's YAML text: maps a field path (["hosts", 1, "roles", 0]) to the
// node that holds it, so that every issue can name a line and a column. Follows aliases and `<<` merges.
import { type Document, isAlias, isMap, isScalar, isSeq, type LineCounter, type Node, type Pair } from "yaml";

export type FieldPath = ReadonlyArray<string | number>;

export interface Position {
  line: number;
  column: number;
}

/** What the cross-field rules may ask about the source (kept small so the rules stay pure). */
export interface SourceLookup {
  /** The file name to print in issues. */
  readonly file: string;
  /** Position of the value at `path`, or of its closest existing ancestor. */
  pos(path: FieldPath): Position | undefined;
  /** Position of the key at `path` (e.g. the `adress:` of an unknown field). */
  keyPos(path: FieldPath): Position | undefined;
  /** True when the value at `path` was written as exactly one ${VAR} reference. */
  fromEnv(path: FieldPath): boolean;
}

/** hosts[1].roles[0], addons.traefik.enabled, labels["example.com/tier"] */
export function formatPath(path: FieldPath): string {
  let out = "";
  for (const seg of path) {
    if (typeof seg === "number") out += `[${seg}]`;
    else if (/^[A-Za-z_][\w-]*$/.test(seg)) out += out ? `.${seg}` : seg;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

/** A `<<` merge key (yaml gives it the value Symbol("<<") when merge keys are on). */
function isMergeKey(key: unknown): boolean {
  if (!isScalar(key)) return false;
  const v = key.value;
  return v === "<<" || (typeof v === "symbol" && v.description === "<<");
}

export class YamlSource implements SourceLookup {
  /** Scalars whose whole text was a single ${VAR}; filled by the env substitution. */
  readonly envScalars = new WeakSet<Node>();

  constructor(
    readonly file: string,
    private readonly doc: Document,
    private readonly lines: LineCounter,
  ) {}

  positionOf(offset: number): Position {
    const { line, col } = this.lines.linePos(offset);
    return { line, column: col };
  }

  private nodePos(node: Node | null | undefined): Position | undefined {
    const start = node?.range?.[0];
    return start === undefined ? undefined : this.positionOf(start);
  }

  private resolve(node: unknown): Node | undefined {
    let n = node;
    for (let i = 0; i < 32 && isAlias(n); i++) n = n.resolve(this.doc);
    return (n ?? undefined) as Node | undefined;
  }

  /** The pair for `key` in a map, also looking into `<<` merge sources (own keys win, like toJS). */
  private findPair(map: Node, key: string | number, depth = 0): Pair | undefined {
    if (!isMap(map) || depth > 16) return undefined;
    const own = map.items.find((p) => isScalar(p.key) && String(p.key.value) === String(key));
    if (own) return own as Pair;
    for (const p of map.items) {
      if (!isMergeKey(p.key)) continue;
      const src = this.resolve(p.value);
      const sources = isSeq(src) ? src.items.map((i) => this.resolve(i)) : [src];
      for (const s of sources) {
        const found = s && this.findPair(s, key, depth + 1);
        if (found) return found;
      }
    }
    return undefined;
  }

  /** The deepest node along `path`; `pair` is the map entry of the last segment when it exists. */
  locate(path: FieldPath): { node: Node | undefined; exact: boolean; pair?: Pair } {
    let node = this.resolve(this.doc.contents);
    let pair: Pair | undefined;
    for (const seg of path) {
      pair = undefined;
      let next: Node | undefined;
      if (isMap(node)) {
        pair = this.findPair(node, seg);
        next = pair ? this.resolve(pair.value) : undefined;
      } else if (isSeq(node) && typeof seg === "number") {
        next = this.resolve(node.items[seg]);
      }
      if (!next) return { node, exact: false };
      node = next;
    }
    return pair ? { node, exact: true, pair } : { node, exact: true };
  }

  pos(path: FieldPath): Position | undefined {
    const { node, exact, pair } = this.locate(path);
    // A key with an empty value (`address:`) has a null scalar without a useful range: use the key.
    if (exact && pair && isScalar(node) && node.value === null) return this.nodePos(pair.key as Node);
    return this.nodePos(node);
  }

  keyPos(path: FieldPath): Position | undefined {
    const { exact, pair } = this.locate(path);
    if (exact && pair) return this.nodePos(pair.key as Node);
    return this.pos(path);
  }

  fromEnv(path: FieldPath): boolean {
    const { node, exact } = this.locate(path);
    return exact && node !== undefined && this.envScalars.has(node);
  }
}
