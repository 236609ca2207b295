// Decoding a `kubeadm … --config FILE` the way kubeadm does: which API versions and kinds a given kubeadm
// accepts, which fields each kind has (and their JSON types), and what kubeadm says when a document does not
// fit. Pure: no file system, no lab. Written from the upstream sources named beside each rule; the wording of
// kubeadm's messages is reproduced so that a test of the simulator reads like a test against the real tool.
//
// What is fatal and what is a warning follows upstream, not a wish for strictness:
// - an unknown apiVersion/kind of kubeadm's own group, a removed API version, a missing apiVersion or kind,
//   a kind given twice, and a value of the wrong JSON type are errors (kubeadm's decoder fails);
// - unknown fields are reported by kubeadm's strict check, which `kubeadm init|join|reset --config` only
//   logs as a klog warning and `kubeadm config validate` turns into an error
//   (cmd/kubeadm/app/util/config/initconfiguration.go documentMapToInitConfiguration: strictErrors is false
//   for BytesToInitConfiguration, true for ValidateConfig; strict/strict.go wraps the decoder's
//   `strict decoding error: unknown field "…"` as `error unmarshaling configuration schema.GroupVersionKind{…}`).
import { parseAllDocuments } from "yaml";

export const KUBEADM_GROUP = "kubeadm.k8s.io";
export const KUBELET_GV = "kubelet.config.k8s.io/v1beta1";
export const KUBEPROXY_GV = "kubeproxy.config.k8s.io/v1alpha1";

/** A Kubernetes version as [minor, patch] of 1.x (kubeadm and the cluster are always 1.x). */
export function minorOf(version: string): number {
  const m = /^v?1\.(\d+)/.exec(version.trim());
  return m ? Number(m[1]) : Number.NaN;
}

// ---------------------------------------------------------------------------------------------------------
// Schemas. A field is a primitive (with its Go type, named in kubeadm's type errors), a list, a map or a
// struct. Sources:
//  - v1beta4: kubernetes/kubernetes cmd/kubeadm/app/apis/kubeadm/v1beta4/types.go at commit
//    1329935739c3aa007d23cb9a4dadfee9d59ff79b (the v1.31/v1.32 shape), plus the later additions listed in
//    the changelog of https://kubernetes.io/docs/reference/config-api/kubeadm-config.v1beta4/ (v1.33
//    UpgradeConfiguration.plan.etcdUpgrade, v1.35 etcd.external.httpEndpoints).
//  - v1beta3: the same directory's v1beta3/types.go (extraArgs and kubeletExtraArgs are string maps there,
//    ClusterConfiguration.apiServer.timeoutForControlPlane and JoinConfiguration.discovery.timeout exist,
//    no timeouts, no ResetConfiguration/UpgradeConfiguration).
//  - bootstraptoken/v1 BootstrapToken, core/v1 Taint and EnvVar, metav1.Duration (a Go duration string).
//  - KubeletConfiguration / KubeProxyConfiguration: the top-level json tags of k8s.io/kubelet
//    config/v1beta1/types.go (kubernetes/kubelet 63b3249724f7, v0.37 development) and k8s.io/kube-proxy
//    config/v1alpha1/types.go (kubernetes/kube-proxy d37b2e75a8dc). Nested kubelet/kube-proxy structs are
//    not modelled (any value passes), and a kubelet field newer than the requested version is accepted.

type Prim = { k: "prim"; json: "string" | "bool" | "number" | "duration" | "any"; go: string };
type List = { k: "list"; go: string; of: Field };
type MapT = { k: "map"; go: string; of: Field };
type Struct = { k: "struct"; go: string; fields: Record<string, Field | undefined> };
type Field = Prim | List | MapT | Struct;

const str: Prim = { k: "prim", json: "string", go: "string" };
const bool: Prim = { k: "prim", json: "bool", go: "bool" };
const int32: Prim = { k: "prim", json: "number", go: "int32" };
const int: Prim = { k: "prim", json: "number", go: "int" };
const dur: Prim = { k: "prim", json: "duration", go: "v1.Duration" };
const any: Prim = { k: "prim", json: "any", go: "interface {}" };
const list = (of: Field, go = `[]${of.go}`): List => ({ k: "list", go, of });
const map = (of: Field): MapT => ({ k: "map", go: `map[string]${of.go}`, of });
const struct = (go: string, fields: Record<string, Field | undefined>): Struct => ({ k: "struct", go, fields });
const strs = list(str);
const typeMeta = { apiVersion: str, kind: str };

function kubeadmSchemas(api: "v1beta3" | "v1beta4", minor: number): Record<string, Struct> {
  const v4 = api === "v1beta4";
  const p = (name: string) => `${api}.${name}`;
  const arg = struct(p("Arg"), { name: str, value: str });
  const extraArgs = v4 ? list(arg) : map(str);
  const envVar = struct(p("EnvVar"), { name: str, value: str, valueFrom: any });
  const hostPathMount = struct(p("HostPathMount"), { name: str, hostPath: str, mountPath: str, readOnly: bool, pathType: str });
  const component = (go: string, extra: Record<string, Field> = {}) =>
    struct(p(go), { extraArgs, extraVolumes: list(hostPathMount), ...(v4 ? { extraEnvs: list(envVar) } : {}), ...extra });
  const taint = struct("v1.Taint", { key: str, value: str, effect: str, timeAdded: any });
  const nodeRegistration = struct(p("NodeRegistrationOptions"), {
    name: str,
    criSocket: str,
    taints: list(taint),
    kubeletExtraArgs: extraArgs,
    ignorePreflightErrors: strs,
    imagePullPolicy: str,
    ...(v4 ? { imagePullSerial: bool } : {}),
  });
  const apiEndpoint = struct(p("APIEndpoint"), { advertiseAddress: str, bindPort: int32 });
  const bootstrapToken = struct("v1.BootstrapToken", { token: str, description: str, ttl: dur, expires: any, usages: strs, groups: strs });
  const patches = struct(p("Patches"), { directory: str });
  const timeouts = struct(p("Timeouts"), {
    controlPlaneComponentHealthCheck: dur,
    kubeletHealthCheck: dur,
    kubernetesAPICall: dur,
    etcdAPICall: dur,
    tlsBootstrap: dur,
    discovery: dur,
    upgradeManifests: dur,
  });
  const imageMeta = { imageRepository: str, imageTag: str };
  const localEtcd = struct(p("LocalEtcd"), {
    ...imageMeta,
    dataDir: str,
    extraArgs,
    ...(v4 ? { extraEnvs: list(envVar) } : {}),
    serverCertSANs: strs,
    peerCertSANs: strs,
  });
  const externalEtcd = struct(p("ExternalEtcd"), {
    endpoints: strs,
    ...(v4 && minor >= 35 ? { httpEndpoints: strs } : {}),
    caFile: str,
    certFile: str,
    keyFile: str,
  });
  const init = struct(p("InitConfiguration"), {
    ...typeMeta,
    bootstrapTokens: list(bootstrapToken),
    ...(v4 ? { dryRun: bool } : {}),
    nodeRegistration,
    localAPIEndpoint: apiEndpoint,
    certificateKey: str,
    skipPhases: strs,
    patches,
    ...(v4 ? { timeouts } : {}),
  });
  const cluster = struct(p("ClusterConfiguration"), {
    ...typeMeta,
    etcd: struct(p("Etcd"), { local: localEtcd, external: externalEtcd }),
    networking: struct(p("Networking"), { serviceSubnet: str, podSubnet: str, dnsDomain: str }),
    kubernetesVersion: str,
    controlPlaneEndpoint: str,
    apiServer: component("APIServer", { certSANs: strs, ...(v4 ? {} : { timeoutForControlPlane: dur }) }),
    controllerManager: component("ControlPlaneComponent"),
    scheduler: component("ControlPlaneComponent"),
    dns: struct(p("DNS"), { ...imageMeta, ...(v4 ? { disabled: bool } : {}) }),
    ...(v4 ? { proxy: struct(p("Proxy"), { disabled: bool }) } : {}),
    certificatesDir: str,
    imageRepository: str,
    featureGates: map(bool),
    clusterName: str,
    ...(v4 ? { encryptionAlgorithm: str, certificateValidityPeriod: dur, caCertificateValidityPeriod: dur } : {}),
  });
  const discovery = struct(p("Discovery"), {
    bootstrapToken: struct(p("BootstrapTokenDiscovery"), { token: str, apiServerEndpoint: str, caCertHashes: strs, unsafeSkipCAVerification: bool }),
    file: struct(p("FileDiscovery"), { kubeConfigPath: str }),
    tlsBootstrapToken: str,
    ...(v4 ? {} : { timeout: dur }),
  });
  const join = struct(p("JoinConfiguration"), {
    ...typeMeta,
    ...(v4 ? { dryRun: bool } : {}),
    nodeRegistration,
    caCertPath: str,
    discovery,
    controlPlane: struct(p("JoinControlPlane"), { localAPIEndpoint: apiEndpoint, certificateKey: str }),
    skipPhases: strs,
    patches,
    ...(v4 ? { timeouts } : {}),
  });
  if (!v4) return { InitConfiguration: init, ClusterConfiguration: cluster, JoinConfiguration: join };
  const reset = struct(p("ResetConfiguration"), {
    ...typeMeta,
    cleanupTmpDir: bool,
    certificatesDir: str,
    criSocket: str,
    dryRun: bool,
    force: bool,
    ignorePreflightErrors: strs,
    skipPhases: strs,
    unmountFlags: strs,
    timeouts,
  });
  const upgradeCommon = { dryRun: bool, ignorePreflightErrors: strs, printConfig: bool };
  const upgrade = struct(p("UpgradeConfiguration"), {
    ...typeMeta,
    apply: struct(p("UpgradeApplyConfiguration"), {
      kubernetesVersion: str,
      allowExperimentalUpgrades: bool,
      allowRCUpgrades: bool,
      certificateRenewal: bool,
      etcdUpgrade: bool,
      forceUpgrade: bool,
      patches,
      skipPhases: strs,
      ...upgradeCommon,
    }),
    diff: struct(p("UpgradeDiffConfiguration"), { kubernetesVersion: str, contextLines: int }),
    node: struct(p("UpgradeNodeConfiguration"), { certificateRenewal: bool, dryRun: bool, etcdUpgrade: bool, ignorePreflightErrors: strs, skipPhases: strs, patches }),
    plan: struct(p("UpgradePlanConfiguration"), {
      kubernetesVersion: str,
      allowExperimentalUpgrades: bool,
      allowRCUpgrades: bool,
      ...(minor >= 33 ? { etcdUpgrade: bool } : {}),
      ...upgradeCommon,
    }),
    timeouts,
  });
  return { InitConfiguration: init, ClusterConfiguration: cluster, JoinConfiguration: join, ResetConfiguration: reset, UpgradeConfiguration: upgrade };
}

const KUBELET_FIELDS =
  "enableServer staticPodPath podLogsDir syncFrequency fileCheckFrequency httpCheckFrequency staticPodURL staticPodURLHeader address port readOnlyPort tlsCertFile tlsPrivateKeyFile tlsCipherSuites tlsCurvePreferences tlsMinVersion rotateCertificates serverTLSBootstrap authentication authorization registryPullQPS registryBurst imagePullCredentialsVerificationPolicy preloadedImagesVerificationAllowlist eventRecordQPS eventBurst enableDebuggingHandlers enableContentionProfiling healthzPort healthzBindAddress oomScoreAdj clusterDomain clusterDNS streamingConnectionIdleTimeout nodeStatusUpdateFrequency nodeStatusReportFrequency nodeLeaseDurationSeconds imageMinimumGCAge imageMaximumGCAge imageGCHighThresholdPercent imageGCLowThresholdPercent volumeStatsAggPeriod kubeletCgroups systemCgroups cgroupRoot cgroupsPerQOS cgroupDriver cpuManagerPolicy singleProcessOOMKill cpuManagerPolicyOptions cpuManagerReconcilePeriod memoryManagerPolicy topologyManagerPolicy topologyManagerScope topologyManagerPolicyOptions qosReserved runtimeRequestTimeout hairpinMode maxPods podCIDR podPidsLimit resolvConf runOnce cpuCFSQuota cpuCFSQuotaPeriod nodeStatusMaxImages maxOpenFiles contentType kubeAPIQPS kubeAPIBurst serializeImagePulls maxParallelImagePulls evictionHard evictionSoft evictionSoftGracePeriod evictionPressureTransitionPeriod evictionMaxPodGracePeriod evictionMinimumReclaim mergeDefaultEvictionSettings podsPerCore enableControllerAttachDetach protectKernelDefaults makeIPTablesUtilChains iptablesMasqueradeBit iptablesDropBit featureGates failSwapOn memorySwap containerLogMaxSize containerLogMaxFiles containerLogMaxWorkers containerLogMonitorInterval configMapAndSecretChangeDetectionStrategy systemReserved kubeReserved reservedSystemCPUs showHiddenMetricsForVersion systemReservedCgroup kubeReservedCgroup enforceNodeAllocatable allowedUnsafeSysctls defaultPodSysctls volumePluginDir providerID kernelMemcgNotification logging enableSystemLogHandler enableSystemLogQuery shutdownGracePeriod shutdownGracePeriodCriticalPods shutdownGracePeriodByPodPriority crashLoopBackOff reservedMemory enableProfilingHandler enableDebugFlagsHandler seccompDefault memoryThrottlingFactor memoryReservationPolicy registerWithTaints registerNode tracing localStorageCapacityIsolation containerRuntimeEndpoint imageServiceEndpoint failCgroupV1 userNamespaces";
const KUBEPROXY_FIELDS =
  "featureGates clientConnection logging hostnameOverride bindAddress healthzBindAddress metricsBindAddress bindAddressHardFail enableProfiling showHiddenMetricsForVersion mode iptables ipvs nftables winkernel detectLocalMode detectLocal clusterCIDR nodePortAddresses oomScoreAdj conntrack configSyncPeriod portRange windowsRunAsService";

const TYPED_KUBELET: Record<string, Field> = { cgroupDriver: str, failSwapOn: bool, failCgroupV1: bool, containerRuntimeEndpoint: str, featureGates: map(bool) };

function componentSchema(go: string, names: string, typed: Record<string, Field> = {}): Struct {
  const fields: Record<string, Field> = { ...typeMeta };
  for (const n of names.split(" ")) fields[n] = typed[n] ?? any;
  return struct(go, fields);
}

// ---------------------------------------------------------------------------------------------------------
// Which API versions a kubeadm accepts.
// Source: cmd/kubeadm/app/util/config/common.go validateSupportedVersion (the oldKnownAPIVersions,
// experimentalAPIVersions and deprecatedAPIVersions tables), kubernetes/kubernetes PR #125029 (v1beta4
// enabled and v1beta3 deprecated in 1.31; experimental, i.e. refused without --allow-experimental-api, in
// 1.28-1.30) and PR #136016 (v1beta3 removed after 1.35: "The 1.35 kubeadm binary can be used to migrate").

const OLD_KUBEADM_APIS: Record<string, string> = {
  v1alpha1: "v1.11",
  v1alpha2: "v1.12",
  v1alpha3: "v1.14",
  v1beta1: "v1.15",
  v1beta2: "v1.22",
};

type VersionVerdict = { ok: true; deprecated?: boolean; unknown?: boolean } | { ok: false; error: string };

export function kubeadmApiSupport(version: string, kind: string, minor: number): VersionVerdict {
  const gv = `${KUBEADM_GROUP}/${version}`;
  const old = OLD_KUBEADM_APIS[version] ?? (version === "v1beta3" && minor >= 36 ? "v1.35" : undefined);
  if (old) {
    return {
      ok: false,
      error: `your configuration file uses an old API spec: "${gv}" (kind: "${kind}"). Please use kubeadm ${old} instead and run 'kubeadm config migrate --old-config old.yaml --new-config new.yaml', which will write the new, similar spec using a newer API version.`,
    };
  }
  if (version === "v1beta4" && minor >= 28 && minor <= 30) {
    return { ok: false, error: `experimental API spec: "${gv}" (kind: "${kind}") is not allowed. You can use the --allow-experimental-api flag if the command supports it.` };
  }
  if (version === "v1beta3") return { ok: true, deprecated: minor >= 31 };
  if (version === "v1beta4" && minor >= 31) return { ok: true };
  // Any other version is not in kubeadm's scheme: the strict check warns "unknown configuration" and the
  // document is skipped.
  return { ok: true, unknown: true };
}

// ---------------------------------------------------------------------------------------------------------
// Decoding.

export interface ConfigDoc {
  apiVersion: string;
  kind: string;
  body: Record<string, unknown>;
}

export interface DecodeResult {
  docs: ConfigDoc[];
  /** What kubeadm logs as klog warnings (without the klog prefix), in order. */
  warnings: string[];
  /** The fatal error kubeadm stops with, if any. */
  error?: string;
  /** Unknown fields per document ("Kind: field path"), also when they are only warnings. */
  unknownFields: string[];
}

export interface DecodeOptions {
  /** The kubeadm binary's version (e.g. v1.35.0): decides which APIs and fields exist. */
  kubeadmVersion: string;
  /** The command reading the file: decides which kind it needs. */
  command?: "init" | "join" | "reset";
  /** `kubeadm config validate` semantics: unknown fields are errors, not warnings. */
  strict?: boolean;
}

/** schema.GroupVersionKind printed with %#v, as kubeadm's warnings show it. */
export function gvkString(apiVersion: string, kind: string): string {
  const i = apiVersion.lastIndexOf("/");
  const group = i < 0 ? "" : apiVersion.slice(0, i);
  const version = i < 0 ? apiVersion : apiVersion.slice(i + 1);
  return `schema.GroupVersionKind{Group:"${group}", Version:"${version}", Kind:"${kind}"}`;
}

function jsonType(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  if (typeof v === "object") return "object";
  if (typeof v === "boolean") return "bool";
  if (typeof v === "number") return `number`;
  return "string";
}

/** Go's time.ParseDuration grammar (what metav1.Duration accepts). */
const GO_DURATION = /^[-+]?((\d+(\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h))+$|^[-+]?0$/;

interface Walk {
  unknown: string[];
  typeError?: string;
}

function walk(v: unknown, f: Field, pathParts: string[], owner: string, w: Walk): void {
  if (w.typeError) return;
  const at = pathParts.join(".");
  const typeErr = (goType = f.go, detail = jsonType(v)) => {
    w.typeError ??= `json: cannot unmarshal ${detail} into Go struct field ${owner}.${at} of type ${goType}`;
  };
  if (v === null) return; // JSON null leaves a Go value at its zero value
  switch (f.k) {
    case "prim":
      if (f.json === "any") return;
      if (f.json === "duration") {
        if (typeof v !== "string") return typeErr("string");
        if (!GO_DURATION.test(v)) w.typeError ??= `time: invalid duration ${JSON.stringify(v)}`;
        return;
      }
      if (jsonType(v) !== f.json) return typeErr();
      if (f.json === "number" && !Number.isInteger(v)) return typeErr(f.go, `number ${String(v)}`);
      return;
    case "list":
      if (!Array.isArray(v)) return typeErr();
      for (const e of v) {
        if (e !== null && f.of.k === "struct" && (typeof e !== "object" || Array.isArray(e))) return typeErr(f.of.go);
        walk(e, f.of, pathParts, owner, w);
      }
      return;
    case "map":
      if (typeof v !== "object" || Array.isArray(v)) return typeErr();
      for (const [k, e] of Object.entries(v as Record<string, unknown>)) walk(e, f.of, [...pathParts, k], owner, w);
      return;
    case "struct": {
      if (typeof v !== "object" || Array.isArray(v)) return typeErr();
      for (const [k, e] of Object.entries(v as Record<string, unknown>)) {
        const sub = f.fields[k];
        if (!sub) {
          w.unknown.push([...pathParts, k].join("."));
          continue;
        }
        walk(e, sub, [...pathParts, k], f.go.replace(/^.*\./, ""), w);
      }
      return;
    }
  }
}

function schemaFor(apiVersion: string, kind: string, minor: number): Struct | undefined {
  if (apiVersion === KUBELET_GV && kind === "KubeletConfiguration") return componentSchema("v1beta1.KubeletConfiguration", KUBELET_FIELDS, TYPED_KUBELET);
  if (apiVersion === KUBEPROXY_GV && kind === "KubeProxyConfiguration") return componentSchema("v1alpha1.KubeProxyConfiguration", KUBEPROXY_FIELDS);
  const [group, version] = apiVersion.split("/");
  if (group !== KUBEADM_GROUP || (version !== "v1beta3" && version !== "v1beta4")) return undefined;
  return kubeadmSchemas(version, minor)[kind];
}

/**
 * Decode a kubeadm config file's text as `kubeadm init|join|reset --config` (or, with `strict`, as
 * `kubeadm config validate`) of the given version would.
 */
export function decodeKubeadmConfig(text: string, opts: DecodeOptions): DecodeResult {
  const minor = minorOf(opts.kubeadmVersion);
  const res: DecodeResult = { docs: [], warnings: [], unknownFields: [] };
  const seenKinds = new Set<string>();
  const errors: string[] = [];
  let parsed;
  try {
    parsed = parseAllDocuments(text, { uniqueKeys: true });
  } catch (e) {
    return { ...res, error: `error converting YAML to JSON: yaml: ${(e as Error).message}` };
  }
  const list = Array.isArray(parsed) ? parsed : [parsed];
  for (const doc of list) {
    if (doc.errors.length) return { ...res, error: `error converting YAML to JSON: yaml: ${doc.errors[0]!.message.split("\n")[0]}` };
    const body = doc.toJS() as unknown;
    if (body === null || body === undefined) continue;
    if (typeof body !== "object" || Array.isArray(body)) return { ...res, error: "error converting YAML to JSON: yaml: document is not a mapping" };
    const b = body as Record<string, unknown>;
    const apiVersion = typeof b.apiVersion === "string" ? b.apiVersion : "";
    const kind = typeof b.kind === "string" ? b.kind : "";
    // Source: cmd/kubeadm/app/util/marshal.go SplitConfigDocuments.
    const slash = apiVersion.lastIndexOf("/");
    if (!kind || slash <= 0) {
      errors.push(
        `invalid configuration for GroupVersionKind {Group:${slash > 0 ? apiVersion.slice(0, slash) : ""} Version:${apiVersion.slice(slash + 1)} Kind:${kind}}: kind and apiVersion is mandatory information that must be specified`,
      );
      continue;
    }
    if (seenKinds.has(kind)) {
      errors.push(`invalid configuration: kind "${kind}" is specified twice in YAML file`);
      continue;
    }
    seenKinds.add(kind);
    res.docs.push({ apiVersion, kind, body: b });
  }
  if (errors.length) return { ...res, error: errors.length === 1 ? errors[0] : `[${errors.join(", ")}]` };

  // Decode in kubeadm's order (documentMapToInitConfiguration sorts the GVKs by their string form).
  const ordered = [...res.docs].sort((a, b) => `${a.apiVersion}, Kind=${a.kind}`.localeCompare(`${b.apiVersion}, Kind=${b.kind}`));
  for (const d of ordered) {
    const [group, version = ""] = d.apiVersion.split("/");
    const gvk = gvkString(d.apiVersion, d.kind);
    if (group === KUBEADM_GROUP) {
      const v = kubeadmApiSupport(version, d.kind, minor);
      if (!v.ok) return { ...res, error: v.error };
      if (v.deprecated) {
        res.warnings.push(
          `your configuration file uses a deprecated API spec: "${d.apiVersion}" (kind: "${d.kind}"). Please use 'kubeadm config migrate --old-config old.yaml --new-config new.yaml', which will write the new, similar spec using a newer API version.`,
        );
      }
    } else if (d.apiVersion.startsWith("kubelet.config.k8s.io/") || d.apiVersion.startsWith("kubeproxy.config.k8s.io/")) {
      const want = d.apiVersion.startsWith("kubelet.") ? KUBELET_GV : KUBEPROXY_GV;
      // Source: cmd/kubeadm/app/componentconfigs/configset.go (a component config of another version).
      if (d.apiVersion !== want) return { ...res, error: `unexpected apiVersion "${d.apiVersion}", you may have to do manual conversion to "${want}" and run kubeadm again` };
    } else {
      // Source: initconfiguration.go: documents of groups kubeadm does not know are skipped with a warning.
      res.warnings.push(`[config] WARNING: Ignored configuration document with GroupVersionKind ${d.apiVersion}, Kind=${d.kind}`);
      continue;
    }
    const schema = schemaFor(d.apiVersion, d.kind, minor);
    if (!schema) res.docs = res.docs.filter((x) => x !== d); // kubeadm cannot decode it: as if absent
    if (!schema) {
      const msg = `unknown configuration ${gvk}`;
      if (opts.strict) return { ...res, error: msg };
      res.warnings.push(msg);
      continue;
    }
    const w: Walk = { unknown: [] };
    walk(d.body, schema, [], schema.go.replace(/^.*\./, ""), w);
    for (const u of w.unknown) res.unknownFields.push(`${d.kind}: ${u}`);
    // The strict check reports unknown fields and type errors alike; only the decoder's type error is fatal.
    const strictMsg = w.typeError
      ? `error unmarshaling configuration ${gvk}: ${w.typeError}`
      : w.unknown.length
        ? `error unmarshaling configuration ${gvk}: strict decoding error: ${w.unknown.map((u) => `unknown field "${u}"`).join(", ")}`
        : undefined;
    if (strictMsg && opts.strict) return { ...res, error: strictMsg };
    if (strictMsg) res.warnings.push(strictMsg);
    if (w.typeError) return { ...res, error: w.typeError };
  }
  // Sources: initconfiguration.go ("no InitConfiguration or ClusterConfiguration kind was found …"),
  // joinconfiguration.go and resetconfiguration.go (the latter names JoinConfiguration, as upstream does).
  const has = (k: string) => res.docs.some((d) => d.kind === k);
  if (opts.command === "init" && !has("InitConfiguration") && !has("ClusterConfiguration")) {
    return { ...res, error: "no InitConfiguration or ClusterConfiguration kind was found in the configuration file" };
  }
  if (opts.command === "join" && !has("JoinConfiguration")) return { ...res, error: "no JoinConfiguration found in the supplied config" };
  if (opts.command === "reset" && !has("ResetConfiguration")) return { ...res, error: "no JoinConfiguration found in the supplied config" };
  return res;
}

// ---------------------------------------------------------------------------------------------------------
// kubernetesVersion labels.
// Source: cmd/kubeadm/app/util/version.go KubernetesReleaseVersion: a label (stable, latest, stable-1.33,
// latest-1.33 …) is fetched from https://dl.k8s.io/release/<label>.txt (10 s timeout); when that fails and
// kubeadm knows its own version it warns twice and falls back to the client version instead of failing.
// Lab hosts never reach dl.k8s.io, so a label always takes that path.

export const VERSION_LABEL = /^(stable|latest)(-\d+(\.\d+)?)?$/;

export interface ResolvedVersion {
  version: string;
  warnings: string[];
}

export function resolveKubernetesVersion(requested: string, clientVersion: string, offlineReason: (url: string) => string): ResolvedVersion {
  const label = requested.replace(/^release\//, "");
  if (!VERSION_LABEL.test(label)) return { version: requested.startsWith("v") ? requested : `v${requested}`, warnings: [] };
  const url = `https://dl.k8s.io/release/${label}.txt`;
  const client = clientVersion.startsWith("v") ? clientVersion : `v${clientVersion}`;
  return {
    version: client,
    warnings: [
      `could not fetch a Kubernetes version from the internet: unable to get URL "${url}": ${offlineReason(url)}`,
      `falling back to the local client version: ${client}`,
    ],
  };
}

// ---------------------------------------------------------------------------------------------------------
// Field values the simulator needs, read from decoded documents (after decodeKubeadmConfig succeeded).

export function docOf(res: DecodeResult, kind: string): Record<string, any> | undefined {
  return res.docs.find((d) => d.kind === kind)?.body as Record<string, any> | undefined;
}
