// Pure generators of idempotent remote steps and config files. See step.ts for the Step contract.
export * from "./step.js";
export * from "./os.js";
export * from "./containerd.js";
export * from "./kubeadm.js";
export * from "./keepalived.js";
export * from "./reset.js";
