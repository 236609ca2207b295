// Stopping and starting a kubeadm control plane's static pods, as kubeadm's docs do it: the kubelet runs
// what is in /etc/kubernetes/manifests, so a manifest moved out stops its pod and moved back starts it
// again ("To restart a static Pod you can temporarily remove its manifest file from
// /etc/kubernetes/manifests/ and wait …": kubernetes.io/docs/tasks/administer-cluster/kubeadm/kubeadm-certs/;
// the etcd restore procedure stops the API servers and etcd the same way). The scripts wait on `crictl ps`
// for the containers to go and to come back instead of sleeping the kubelet's 20 s fileCheckFrequency.
// Pure generators; parked manifests stay in PARKED_DIR so a run cut off in between can be finished by hand.

export const MANIFESTS_DIR = "/etc/kubernetes/manifests";
export const PARKED_DIR = "/etc/kubernetes/kubesmith-parked-manifests";
/** Start order: etcd first (the API servers need it). */
export const CONTROL_PLANE_PODS = ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"] as const;

/** Containers the scripts wait on (the lab's crictl lists these two; a real one lists all four). */
const WATCHED = "^(kube-apiserver|etcd)$";

function waitLoop(cond: string, what: string, seconds: number): string {
  return `i=0; while ${cond}; do i=$((i+1)); if [ "$i" -ge ${seconds * 2} ]; then echo ${JSON.stringify(what)} >&2; exit 1; fi; sleep 0.5; done`;
}

const running = (name: string) => `[ -n "$(crictl ps -q --name '^${name}$' --state running 2>/dev/null)" ]`;

/** Move the control-plane manifests out and wait until kube-apiserver and etcd are gone. */
export function stopStaticPodsScript(timeoutS = 120): string {
  return [
    "set -e",
    `mkdir -p ${PARKED_DIR}`,
    `for f in ${CONTROL_PLANE_PODS.join(" ")}; do if [ -f ${MANIFESTS_DIR}/$f.yaml ]; then mv ${MANIFESTS_DIR}/$f.yaml ${PARKED_DIR}/; fi; done`,
    waitLoop(`[ -n "$(crictl ps -q --name '${WATCHED}' 2>/dev/null)" ]`, `kube-apiserver or etcd still runs ${timeoutS} s after their manifests were moved to ${PARKED_DIR}`, timeoutS),
  ].join("\n");
}

/** Move the parked manifests back and wait until etcd and kube-apiserver run again. */
export function startStaticPodsScript(timeoutS = 180): string {
  return [
    "set -e",
    `for f in ${CONTROL_PLANE_PODS.join(" ")}; do if [ -f ${PARKED_DIR}/$f.yaml ]; then mv ${PARKED_DIR}/$f.yaml ${MANIFESTS_DIR}/; fi; done`,
    `rmdir ${PARKED_DIR} 2>/dev/null || true`,
    waitLoop(`! ${running("etcd")} || ! ${running("kube-apiserver")}`, `etcd and kube-apiserver did not both run within ${timeoutS} s of their manifests coming back`, timeoutS),
  ].join("\n");
}

/** Restart: stop then start, the manifests put back also when the stop fails. */
export function restartStaticPodsScript(): string {
  return [
    `back() { for f in ${CONTROL_PLANE_PODS.join(" ")}; do if [ -f ${PARKED_DIR}/$f.yaml ]; then mv ${PARKED_DIR}/$f.yaml ${MANIFESTS_DIR}/; fi; done; }`,
    "trap back EXIT",
    `(\n${stopStaticPodsScript()}\n) || exit 1`,
    "trap - EXIT",
    startStaticPodsScript(),
  ].join("\n");
}

/** Wait until this host's own kube-apiserver answers /readyz (anonymous, as keepalived's check asks /healthz). */
export function waitLocalApiScript(port = 6443, timeoutS = 120): string {
  return waitLoop(`[ "$(curl -sk --max-time 3 https://127.0.0.1:${port}/readyz 2>/dev/null)" != ok ]`, `the kube-apiserver on this host did not answer /readyz within ${timeoutS} s`, timeoutS);
}
