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

type Container = { image?: unknown };

/** Calls fn for every container (containers, initContainers, ephemeralContainers) in an object, with its JSON path. */
function eachContainer(obj: unknown, fn: (c: Container, path: string) => void): void {
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
          if (c && typeof c === "object" && "image" in c) fn(c as Container, `${p}[${i}]`);
          walk(c, `${p}[${i}]`, depth + 1);
        });
      } else walk(x, p, depth + 1);
    }
  };
  walk(obj, "", 0);
}

/** Every container image in an object, with its JSON path (spec.template.spec.containers[0].image). */
export function findImages(obj: unknown): { path: string; image: unknown }[] {
  const out: { path: string; image: unknown }[] = [];
  eachContainer(obj, (c, p) => out.push({ path: `${p}.image`, image: c.image }));
  return out;
}

// ---------------------------------------------------------------------------------------------------
// One registry for every image (offline.imageRepository)
//
// The rule, as KubeOne's registryConfiguration.overwriteRegistry applies it ("doesn't modify the
// user/organization part of the image", docs.kubermatic.com/kubeone/v1.2/infrastructure/custom_registry) and as kubeadm's own
// imageRepository does for registry.k8s.io: the reference is first normalized the way containerd reads it
// (github.com/distribution/reference ParseNormalizedNamed: the first path component is a registry host when
// it holds a "." or ":" or is "localhost"; otherwise the image is on docker.io, and a one-component
// docker.io name is under library/), then its registry host is replaced by the repository and the path,
// tag and digest are kept:
//   quay.io/calico/node:v3.32.1          -> REPO/calico/node:v3.32.1
//   traefik:v3.7.13                      -> REPO/library/traefik:v3.7.13
//   grafana/grafana:12.1.1               -> REPO/grafana/grafana:12.1.1
//   registry.k8s.io/pause:3.10.1         -> REPO/pause:3.10.1 (where kubeadm looks with imageRepository: REPO)
// An image already under REPO is left alone, so the rewrite can run twice.

/** An image reference split as containerd normalizes it: registry host, path, and the ":tag" / "@digest" suffix. */
export function splitImage(ref: string): { registry: string; path: string; suffix: string } {
  let rest = ref.trim();
  let suffix = "";
  const at = rest.indexOf("@");
  if (at >= 0) {
    suffix = rest.slice(at);
    rest = rest.slice(0, at);
  }
  const colon = rest.lastIndexOf(":");
  if (colon > rest.lastIndexOf("/")) {
    suffix = rest.slice(colon) + suffix;
    rest = rest.slice(0, colon);
  }
  const parts = rest.split("/");
  const first = parts[0]!;
  if (parts.length > 1 && (first.includes(".") || first.includes(":") || first === "localhost")) {
    return { registry: first === "index.docker.io" ? "docker.io" : first, path: parts.slice(1).join("/"), suffix };
  }
  return { registry: "docker.io", path: parts.length === 1 ? `library/${rest}` : rest, suffix };
}

/** The image as pulled from `repo` (see the rule above). */
export function redirectImage(ref: string, repo: string): string {
  const base = repo.replace(/\/+$/, "");
  if (ref.startsWith(`${base}/`)) return ref;
  const { path, suffix } = splitImage(ref);
  return `${base}/${path}${suffix}`;
}

/**
 * Rewrite every container image (init and ephemeral containers included) of the objects in place to come
 * from `repo`; returns how many images changed. Non-string images are left for validation to report.
 */
export function redirectImages(objects: readonly unknown[], repo: string): number {
  let n = 0;
  for (const o of objects) {
    eachContainer(o, (c) => {
      if (typeof c.image !== "string") return;
      const to = redirectImage(c.image, repo);
      if (to !== c.image) {
        c.image = to;
        n++;
      }
    });
  }
  return n;
}
