// Which container images exist, and as what user they run: the lab has no registry, so the simulator
// answers an image pull from this table. It lists REAL releases only, each with where it was seen
// published, and it is kept apart from the product's own pins (addons/*/addon.yaml, src/versions.ts,
// addons/calico/calico.yaml): the product must agree with upstream's releases, not with itself. A pin that is
// not a real release goes to ErrImagePull/ImagePullBackOff here, as it would on a real node.
//
// `user` is the image config's User (the Dockerfile's USER), exactly as written, "" for none (root). It is
// what kubelet checks `runAsNonRoot` against (see runAsNonRootProblem in workloads.ts).
//
// Images in a registry under a reserved test domain (RFC 2606/6761: *.example, *.test, *.invalid,
// *.localhost, localhost) stand for a test's own registry: they always pull, and their user is unknown.
// That is one seam, for tests; the other is the simulator's `extraImages` option (images a test says it
// pushed somewhere, e.g. "img:1"): both have an unknown user. Real registries are never assumed.
//
// Registry mirrors (the lab's `registryMirrors` setting, see RegistryMirror): a mirror holds copies of
// upstream images at the same path and tag under its own prefix (a pull-through cache, or images copied
// with `skopeo copy`/`crane copy`, keep repository and tag), so an image under a declared mirror pulls iff
// the same path:tag is a real release on one of the registries it mirrors, and runs as that image's user.
// The declaration wins over the reserved-domain seam: a mirror under *.example is not "anything goes".
// Sources: distribution's "Registry as a pull through cache" (distribution.github.io/distribution/recipes/
// mirror/: content is fetched from the upstream on demand); KubeOne's overwriteRegistry keeps the image
// path and needs every image preloaded (docs.kubermatic.com/kubeone/v1.3/guides/registry_configuration/).

export interface ImageRef {
  /** As written in the pod spec. */
  raw: string;
  /** docker.io, quay.io, registry.k8s.io … */
  registry: string;
  /** library/traefik, prometheus/prometheus … (no registry) */
  repository: string;
  tag?: string;
  digest?: string;
}

/**
 * Parse an image reference as containerd normalizes it (github.com/distribution/reference
 * ParseNormalizedNamed): the first path component is a registry when it has a "." or ":" or is
 * "localhost"; otherwise docker.io, and a one-component name on docker.io is under library/.
 */
export function parseImageRef(raw: string): ImageRef {
  let rest = raw.trim();
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf("/");
  const colon = rest.lastIndexOf(":");
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
  }
  const parts = rest.split("/");
  let registry = "docker.io";
  if (parts.length > 1 && (parts[0]!.includes(".") || parts[0]!.includes(":") || parts[0] === "localhost")) registry = parts.shift()!;
  if (registry === "index.docker.io") registry = "docker.io";
  let repository = parts.join("/");
  if (registry === "docker.io" && parts.length === 1) repository = `library/${repository}`;
  return { raw, registry, repository, ...(tag !== undefined ? { tag } : {}), ...(digest !== undefined ? { digest } : {}) };
}

/** registry/repository:tag, the fully qualified name containerd pulls. */
export function normalizedImage(ref: ImageRef): string {
  return `${ref.registry}/${ref.repository}${ref.tag !== undefined ? `:${ref.tag}` : ref.digest ? "" : ":latest"}${ref.digest ? `@${ref.digest}` : ""}`;
}

const TEST_REGISTRY = /(^|\.)(example|test|invalid|localhost)(:\d+)?$|^localhost(:\d+)?$/;

/** A registry under a reserved test domain (see the header): the simulator's tests' own images. */
export function isTestRegistry(ref: ImageRef): boolean {
  return TEST_REGISTRY.test(ref.registry);
}

export interface KnownImage {
  /** registry/repository, normalized (docker.io/library/traefik). */
  image: string;
  tags: readonly string[];
  /** The image config's User, as written ("" = root). */
  user: string;
  /** Where the releases were seen published, and where the user comes from. */
  source: string;
}

/**
 * Real releases. Checked 2026-11 with public release pages and registries (the source of each row);
 * neighbouring releases are listed too, so that a bump to a real release passes and a made-up one fails.
 */
export const KNOWN_IMAGES: readonly KnownImage[] = [
  {
    image: "quay.io/prometheus/prometheus",
    tags: ["v3.4.0", "v3.4.1", "v3.4.2", "v3.5.0"],
    user: "nobody",
    source:
      "github.com/prometheus/prometheus/releases/tag/v3.5.0 (3.5.0 / 2025-07-14, LTS); images on quay.io/prometheus/prometheus; user: the Dockerfile's `USER nobody` (65534 in its busybox base)",
  },
  {
    image: "docker.io/prom/prometheus",
    tags: ["v3.4.0", "v3.4.1", "v3.4.2", "v3.5.0"],
    user: "nobody",
    source: "the same releases, mirrored to Docker Hub prom/prometheus",
  },
  {
    image: "quay.io/prometheus/node-exporter",
    tags: ["v1.9.0", "v1.9.1"],
    user: "nobody",
    source:
      "prometheus/node_exporter releases 1.9.0 (2025-02) and 1.9.1 (2025-04; openSUSE golang-github-prometheus-node_exporter 1.9.1, Alpine prometheus-node-exporter 1.9.1); user: node_exporter's Dockerfile `USER nobody`",
  },
  {
    image: "registry.k8s.io/kube-state-metrics/kube-state-metrics",
    tags: ["v2.15.0", "v2.16.0", "v2.17.0"],
    user: "nobody",
    source:
      "kubernetes/kube-state-metrics releases (nixpkgs kube-state-metrics 2.16.0 -> 2.17.0, PR #439251; cybozu/neco-containers 2.15.0); user: kube-state-metrics' Dockerfile `USER nobody` (distroless/static)",
  },
  {
    image: "docker.io/grafana/grafana",
    tags: ["12.0.2", "12.1.0", "12.1.1", "12.2.1", "12.3.0"],
    user: "472",
    source:
      "grafana/grafana CHANGELOG (12.1.0 2025-07-23; 12.1.1 2025-08, VolkovLabs/business-custom PR #131 'Update to Grafana 12.1.1'; 12.3.0 2025-11-19); user: packaging/docker/Dockerfile ARG GF_UID=\"472\", USER \"$GF_UID\"",
  },
  {
    image: "docker.io/library/traefik",
    tags: ["v3.6.15", "v3.7.0", "v3.7.1", "v3.7.5", "v3.7.13"],
    user: "",
    source:
      "github.com/traefik/traefik/releases (v3.7.13 listed; v3.7.0 2026-05; v3.7.1, v3.7.5 in traefik/hub release notes); user: traefik's Dockerfile has no USER (root)",
  },
  {
    image: "docker.elastic.co/beats/filebeat",
    tags: ["9.4.5", "9.5.0", "9.5.1", "9.5.2", "9.5.3", "9.5.4"],
    user: "filebeat",
    source:
      "github.com/elastic/beats/releases (v9.5.0, v9.5.2, v9.4.5); microsoft/winget-pkgs 'New version: Elastic.Filebeat version 9.5.4' (PR #435474, 2026-09-15) and 9.5.1/9.5.3; user: beats dev-tools/packaging/templates/docker/Dockerfile.tmpl (useradd --uid 1000 filebeat, USER filebeat)",
  },
  {
    image: "ghcr.io/stefanprodan/podinfo",
    tags: ["6.9.0", "6.9.1", "6.9.2"],
    user: "app",
    source: "stefanprodan/podinfo 'Release 6.9.0' PR #399, 'Release 6.9.1' PR #408, 'Release 6.9.2' PR #417 (merged); user: podinfo's Dockerfile (adduser -S app, USER app)",
  },
  ...["node", "cni", "kube-controllers"].flatMap((c): KnownImage[] =>
    ["quay.io", "docker.io"].map((registry) => ({
      image: `${registry}/calico/${c}`,
      tags: ["v3.30.2", "v3.31.6", "v3.31.7", "v3.32.1", "v3.32.2"],
      user: c === "kube-controllers" ? "999" : "",
      source:
        "projectcalico/calico releases (v3.31.7 2026-08-21, v3.32.1 2026-06-26, v3.32.2 2026-08-30, v3.31.6 2026-06-19, per the Calico release-notes changelog; v3.30.2 2025-06); " +
        (c === "kube-controllers" ? "user: kube-controllers/Dockerfile `USER 999`" : "user: calico/node and calico/cni run as root (no USER)"),
    })),
  ),
  {
    image: "registry.k8s.io/pause",
    tags: ["3.9", "3.10", "3.10.1"],
    user: "65535:65535",
    source: "kubeadm cmd/kubeadm/app/constants/constants.go PauseVersion (3.9 up to 1.30, 3.10 for 1.31-1.33, 3.10.1 from 1.34; see docs/versions.md); user: build/pause/Dockerfile USER 65535:65535",
  },
  {
    image: "docker.io/library/nginx",
    tags: ["1.27", "1.27.5", "1.28.0", "1.29.0"],
    user: "",
    source: "nginx.org CHANGES (1.27.5 2025-04-16, 1.28.0 2025-04-23, 1.29.0 2025-06-24); Docker Hub library/nginx tags; user: none (the master process runs as root)",
  },
  {
    image: "ghcr.io/flannel-io/flannel",
    tags: ["v0.26.7", "v0.27.0"],
    user: "",
    source: "github.com/flannel-io/flannel/releases (v0.26.7 2025-04, v0.27.0 2025-06); user: none (root)",
  },
];

const byImage = new Map(KNOWN_IMAGES.map((k) => [k.image, k]));

/**
 * A registry mirror the lab declares: images under `prefix` (host[:port][/path]) are copies of the same
 * path:tag on the `upstreams` registries (e.g. registry.k8s.io, docker.io, quay.io).
 */
export interface RegistryMirror {
  prefix: string;
  upstreams: readonly string[];
}

/** Parses the lab's mirror declarations, "PREFIX=UP1,UP2"; throws on a malformed one. */
export function parseRegistryMirror(spec: string): RegistryMirror {
  const m = /^([^=\s]+)=([^=\s]+)$/.exec(spec.trim());
  if (!m) throw new Error(`registry mirror ${JSON.stringify(spec)} must look like PREFIX=UPSTREAM[,UPSTREAM…]`);
  return { prefix: m[1]!.replace(/\/+$/, ""), upstreams: m[2]!.split(",").filter(Boolean) };
}

/** The upstream references an image under a declared mirror stands for; undefined when under none. */
export function mirroredFrom(raw: string, mirrors: readonly RegistryMirror[]): string[] | undefined {
  if (!mirrors.length) return undefined;
  const ref = parseImageRef(raw);
  const full = `${ref.registry}/${ref.repository}`;
  const mirror = mirrors.find((mm) => full.startsWith(`${mm.prefix}/`));
  if (!mirror) return undefined;
  const path = full.slice(mirror.prefix.length + 1);
  const suffix = `${ref.tag !== undefined ? `:${ref.tag}` : ""}${ref.digest ? `@${ref.digest}` : ""}`;
  return mirror.upstreams.map((u) => `${u}/${path}${suffix}`);
}

export type PullResult =
  | { ok: true; user: string | undefined; known?: KnownImage }
  | { ok: false; reason: "ErrImagePull"; message: string };

/**
 * What pulling `raw` would do on a node. A (repository, tag) not in the table is "not found", with
 * containerd's words as kubelet reports them (pkg/kubelet/images/image_manager.go: `Failed to pull image
 * %q: %v`; the error from containerd's resolver: `failed to pull and unpack image "X": failed to resolve
 * reference "X": X: not found`).
 */
export function pullImage(raw: string, extra: readonly string[] = [], mirrors: readonly RegistryMirror[] = []): PullResult {
  const ref = parseImageRef(raw);
  const upstream = mirroredFrom(raw, mirrors);
  if (upstream) {
    for (const u of upstream) {
      const r = pullImage(u, extra);
      if (r.ok) return r;
    }
    return notFound(raw, ref);
  }
  if (isTestRegistry(ref)) return { ok: true, user: undefined };
  if (extra.length && extra.some((e) => normalizedImage(parseImageRef(e)) === normalizedImage(ref))) return { ok: true, user: undefined };
  const known = byImage.get(`${ref.registry}/${ref.repository}`);
  if (known && ref.tag !== undefined && known.tags.includes(ref.tag)) return { ok: true, user: known.user, known };
  return notFound(raw, ref);
}

function notFound(raw: string, ref: ImageRef): PullResult {
  const full = normalizedImage(ref);
  return {
    ok: false,
    reason: "ErrImagePull",
    message: `Failed to pull image "${raw}": rpc error: code = NotFound desc = failed to pull and unpack image "${full}": failed to resolve reference "${full}": ${full}: not found`,
  };
}

/** kubelet's back-off message once a pull has failed (image_manager.go: `Back-off pulling image %q`, then the last error). */
export function backOffMessage(raw: string, pullError: string): string {
  return `Back-off pulling image "${raw}": ErrImagePull: ${pullError}`;
}

/**
 * The lab's pin policy (NOT a rule of a real cluster, which pulls `:latest` and untagged images): an image
 * must name a tag other than `latest`, or a digest. The Kubernetes docs advise against it: "You should
 * avoid using the :latest tag when deploying containers in production as it is harder to track which version
 * of the image is running and more difficult to roll back properly" (kubernetes.io/docs/concepts/
 * configuration/overview/#container-images) and "if you don't specify a tag, Kubernetes assumes you mean
 * the tag latest" (kubernetes.io/docs/concepts/containers/images/#image-names). Returns the problem, or
 * undefined when pinned.
 */
export function pinProblem(raw: string): string | undefined {
  const ref = parseImageRef(raw);
  if (ref.digest) return undefined;
  if (ref.tag === undefined) return `image "${raw}" has no tag (Kubernetes would pull :latest); the lab requires a pinned tag or digest`;
  if (ref.tag === "latest") return `image "${raw}" uses the tag latest; the lab requires a pinned tag or digest`;
  return undefined;
}
