// What a program refuses in its own configuration file, read from the ConfigMap the pod mounts: the
// simulator runs no containers, so it reads the file the program would read and applies the program's rule.
// Only rules with an upstream source are here; the program is recognised by its image (any registry mirror
// counts as the image it copies), the rule by the image's version.
//
// Filebeat 9 (elastic/beats PR #42295 "Limit usage of the deprecated `log` and `container` inputs", label
// "breaking change", in 9.0.0): "The log input has been deprecated since 7.16, it's time to disable it. The
// container input is just an alias/preset for the log input." They still run under Elastic Agent, as part of a
// module, or with `allow_deprecated_use: true` in the input's configuration; otherwise "users who are still
// using the deprecated log and container inputs in their hand-crafted configuration will see the error message
// on Filebeat's startup". The docs (elastic.co/docs/reference/beats/filebeat/filebeat-input-container): "The
// log input is deprecated in version 7.16 and disabled in version 9.0. Please use the filestream input with
// its container parser instead." The pod's container exits, so the kubelet restarts it: CrashLoopBackOff.
// Inputs come from `filebeat.inputs` and from autodiscover templates (`filebeat.autodiscover.providers[].
// templates[].config`), which start inputs of the same types. The lab words the message itself (the exact
// startup line is not quoted in the sources above) and names the input and the rule.
//
// The config file: `-c FILE` / `--c FILE` / `-c=FILE` in the container's args (command too), else Filebeat's
// default /usr/share/filebeat/filebeat.yml (the image's WORKDIR and path.config); the volumeMount that holds
// it (mountPath a parent directory, or subPath for the file itself) and that mount's configMap volume (its
// `items` mapping keys to paths). A file the lab cannot find (hostPath, Secret, missing ConfigMap) is not
// judged.

import path from "node:path";
import { parse as parseYaml } from "yaml";
import { mirroredFrom, parseImageRef, type RegistryMirror } from "./known-images.js";
import { arrOf, isObj, objOf, strOf, type JsonObject, type KObject } from "./types.js";

const FILEBEAT_IMAGES = ["docker.elastic.co/beats/filebeat", "docker.io/elastic/filebeat"];
const FILEBEAT_DEFAULT_CONFIG = "/usr/share/filebeat/filebeat.yml";
/** Inputs Filebeat 9 disables (the container input is a preset of the log input). */
const DISABLED_IN_9 = new Set(["log", "container"]);

/** Filebeat's major version from the container's image tag, if the image is Filebeat. */
function filebeatMajor(image: string, mirrors: readonly RegistryMirror[]): number | undefined {
  for (const candidate of mirroredFrom(image, mirrors) ?? [image]) {
    const ref = parseImageRef(candidate);
    if (!FILEBEAT_IMAGES.includes(`${ref.registry}/${ref.repository}`)) continue;
    const m = /^v?(\d+)\./.exec(ref.tag ?? "");
    return m ? Number(m[1]) : undefined;
  }
  return undefined;
}

/** The config file the container's Filebeat reads (`-c`), as an absolute path. */
export function filebeatConfigPath(container: JsonObject): string {
  const argv = [...arrOf(container["command"]), ...arrOf(container["args"])].map((a) => String(a));
  let file: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if ((a === "-c" || a === "--c") && i + 1 < argv.length) file = argv[i + 1];
    else if (/^--?c=/.test(a)) file = a.slice(a.indexOf("=") + 1);
  }
  if (!file) return FILEBEAT_DEFAULT_CONFIG;
  return path.posix.isAbsolute(file) ? file : path.posix.join(path.posix.dirname(FILEBEAT_DEFAULT_CONFIG), file);
}

/** The text of `file` as the container sees it, when a ConfigMap volume holds it. */
export function mountedConfigMapFile(pod: JsonObject, container: JsonObject, file: string, namespace: string, configMaps: readonly KObject[]): string | undefined {
  const volumes = arrOf(pod["volumes"]).filter(isObj);
  for (const m of arrOf(container["volumeMounts"]).filter(isObj)) {
    const mountPath = strOf(m["mountPath"]) ?? "";
    const subPath = strOf(m["subPath"]);
    let rel: string | undefined;
    if (subPath !== undefined && subPath !== "") {
      if (file === mountPath) rel = subPath;
    } else if (file.startsWith(`${mountPath.replace(/\/$/, "")}/`)) {
      rel = file.slice(mountPath.replace(/\/$/, "").length + 1);
    }
    if (rel === undefined) continue;
    const vol = volumes.find((v) => v["name"] === m["name"]);
    const cmRef = objOf(vol?.["configMap"]);
    const cmName = strOf(cmRef["name"]);
    if (!cmName) return undefined;
    const cm = configMaps.find((c) => c.metadata.namespace === namespace && c.metadata.name === cmName);
    const data = objOf(cm?.["data"]);
    const items = arrOf(cmRef["items"]).filter(isObj);
    const key = items.length ? strOf(items.find((it) => it["path"] === rel)?.["key"]) : rel;
    const text = key === undefined ? undefined : data[key];
    return typeof text === "string" ? text : undefined;
  }
  return undefined;
}

/** Filebeat inputs a config starts: `filebeat.inputs` and autodiscover templates' configs, with where each is. */
function filebeatInputs(config: JsonObject): { where: string; input: JsonObject }[] {
  const get = (o: JsonObject, dotted: string): unknown => (dotted in o ? o[dotted] : dotted.split(".").reduce<unknown>((acc, k) => objOf(acc)[k], o));
  const out: { where: string; input: JsonObject }[] = [];
  arrOf(get(config, "filebeat.inputs")).forEach((inp, i) => {
    if (isObj(inp)) out.push({ where: `filebeat.inputs[${i}]`, input: inp });
  });
  arrOf(objOf(get(config, "filebeat.autodiscover"))["providers"]).forEach((p, i) => {
    arrOf(objOf(p)["templates"]).forEach((t, j) => {
      arrOf(objOf(t)["config"]).forEach((c, k) => {
        if (isObj(c)) out.push({ where: `filebeat.autodiscover.providers[${i}].templates[${j}].config[${k}]`, input: c });
      });
    });
  });
  return out;
}

/**
 * Why this container's program refuses its configuration, or undefined. Filebeat ≥ 9 with an enabled `log` or
 * `container` input lacking `allow_deprecated_use: true` (sources at the top of this file).
 */
export function programConfigProblem(
  pod: JsonObject,
  container: JsonObject,
  namespace: string,
  configMaps: readonly KObject[],
  mirrors: readonly RegistryMirror[] = [],
): string | undefined {
  const major = filebeatMajor(strOf(container["image"]) ?? "", mirrors);
  if (major === undefined || major < 9) return undefined;
  const file = filebeatConfigPath(container);
  const text = mountedConfigMapFile(pod, container, file, namespace, configMaps);
  if (text === undefined) return undefined;
  let config: unknown;
  try {
    config = parseYaml(text);
  } catch {
    return undefined;
  }
  if (!isObj(config)) return undefined;
  for (const { where, input } of filebeatInputs(config)) {
    const type = strOf(input["type"]);
    if (!type || !DISABLED_IN_9.has(type)) continue;
    if (input["enabled"] === false || input["allow_deprecated_use"] === true) continue;
    return `${file} ${where}: the "${type}" input is deprecated and disabled in Filebeat 9 unless the input sets allow_deprecated_use: true; Filebeat does not start (use the filestream input with the container parser)`;
  }
  return undefined;
}
