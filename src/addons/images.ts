// Image references: pinned by a tag other than `latest`, or by a digest. Anything else could change under
// a running cluster without a change to the bundle.

/** Why an image reference is not pinned, or undefined when it is. */
export function imageProblem(ref: string): string | undefined {
  const s = ref.trim();
  if (!s) return "is empty";
  if (/\s/.test(s)) return `"${ref}" contains whitespace`;
  const at = s.indexOf("@");
  if (at >= 0) {
    const digest = s.slice(at + 1);
    return /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-fA-F0-9]{32,}$/.test(digest) ? undefined : `"${ref}" has a malformed digest`;
  }
  // The tag is after the last ':' of the last path component (a ':' before a '/' is a registry port).
  const last = s.slice(s.lastIndexOf("/") + 1);
  const colon = last.lastIndexOf(":");
  if (colon < 0) return `"${ref}" has no tag (pin a version, e.g. ${s}:1.2.3, or a digest)`;
  const tag = last.slice(colon + 1);
  if (!tag) return `"${ref}" has an empty tag`;
  if (tag === "latest") return `"${ref}" uses the tag latest (pin a version)`;
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(tag)) return `"${ref}" has a malformed tag`;
  return undefined;
}

/** Names of the arrays of containers in pod specs (any kind, custom resources included). */
const CONTAINER_LISTS = new Set(["containers", "initContainers", "ephemeralContainers"]);

/** Every container image in an object, with its JSON path (spec.template.spec.containers[0].image). */
export function findImages(obj: unknown): { path: string; image: unknown }[] {
  const out: { path: string; image: unknown }[] = [];
  const walk = (v: unknown, path: string, depth: number): void => {
    if (depth > 64 || v === null || typeof v !== "object") return;
    if (Array.isArray(v)) {
      v.forEach((x, i) => walk(x, `${path}[${i}]`, depth + 1));
      return;
    }
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      const p = path ? `${path}.${k}` : k;
      if (CONTAINER_LISTS.has(k) && Array.isArray(x)) {
        x.forEach((c, i) => {
          if (c && typeof c === "object" && "image" in c) out.push({ path: `${p}[${i}].image`, image: (c as { image: unknown }).image });
          walk(c, `${p}[${i}]`, depth + 1);
        });
      } else walk(x, p, depth + 1);
    }
  };
  walk(obj, "", 0);
  return out;
}
