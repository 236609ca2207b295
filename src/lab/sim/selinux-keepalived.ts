// SELinux and keepalived's check scripts on a RHEL-like host (Rocky 9 ships Fedora's targeted policy).
// Judged from the keepalived.conf `vrrp_script` line, the script file, and the host's SELinux state; the lab
// runs real keepalived and real curl, whose connects the lab's kernel does not police, so this is where the
// denial a real enforcing host applies is found (in-process: test/lab/real-machine-defects.test.ts).
//
// Sources: fedora-selinux/selinux-policy policy/modules/contrib/keepalived.te and keepalived.fc:
// - keepalived runs as keepalived_t (init_daemon_domain); a script it starts runs in keepalived_t
//   (corecmd_exec_bin, corecmd_exec_shell: no domain transition) unless the script file is labelled
//   keepalived_unconfined_script_exec_t, which keepalived.fc gives to /usr/libexec/keepalived(/.*)? (domtrans
//   to keepalived_unconfined_script_t, an unconfined domain);
// - keepalived_t may connect (name_connect) to TCP ports of the types http_port_t, mysqld_port_t, smtp_port_t,
//   snmp_port_t, agentx_port_t, squid_port_t, connlcli_port_t (corenet_tcp_connect_*_port), and to every
//   port only with the boolean keepalived_connect_any ("Determine whether keepalived can connect to all TCP
//   ports", default false: gen_tunable(keepalived_connect_any, false));
// - the port numbers of those types: the policy's corenetwork (as `semanage port -l` lists them): http_port_t
//   80, 81, 443, 488, 8008, 8009, 8443, 9000; mysqld_port_t 1186, 3306, 63132-63164; smtp_port_t 25, 465,
//   587; snmp_port_t 161-162, 199, 1161; agentx_port_t 705; squid_port_t 3128, 3401, 4827; connlcli_port_t
//   1358.
// - Permissive: the denial is logged (`permissive=1`) and the connect goes through; Disabled: no check.
// Not modelled: file labels other than by path (a script under /usr/libexec/keepalived counts as relabelled),
// the exec permission on the script file itself, local policy modules, `script_security` user changes
// (keepalived's script_user does not change the SELinux domain).

export interface SelinuxState {
  mode: "Enforcing" | "Permissive" | "Disabled";
  booleans?: Record<string, boolean>;
}

const ALLOWED_PORTS: readonly [type: string, ports: readonly (number | [number, number])[]][] = [
  ["http_port_t", [80, 81, 443, 488, 8008, 8009, 8443, 9000]],
  ["mysqld_port_t", [1186, 3306, [63132, 63164]]],
  ["smtp_port_t", [25, 465, 587]],
  ["snmp_port_t", [[161, 162], 199, 1161]],
  ["agentx_port_t", [705]],
  ["squid_port_t", [3128, 3401, 4827]],
  ["connlcli_port_t", [1358]],
];

function portTypeAllowed(port: number): string | undefined {
  for (const [type, ports] of ALLOWED_PORTS) {
    if (ports.some((p) => (Array.isArray(p) ? port >= p[0] && port <= p[1] : port === p))) return type;
  }
  return undefined;
}

/** TCP ports a check's text connects to: URLs (http 80, https 443 by default) and bash's /dev/tcp/HOST/PORT. */
export function checkPorts(text: string): number[] {
  const ports = new Set<number>();
  for (const m of text.matchAll(/\b(https?):\/\/(\[[^\]]+\]|[A-Za-z0-9_.-]+)(?::(\d+))?/g)) ports.add(m[3] ? Number(m[3]) : m[1] === "https" ? 443 : 80);
  for (const m of text.matchAll(/\/dev\/tcp\/[^/\s'"]+\/(\d+)/g)) ports.add(Number(m[1]));
  return [...ports];
}

/**
 * Why SELinux makes this keepalived check fail on a real host, or undefined when it does not. `script` is the
 * vrrp_script's command line; `readScript` returns a script file's text (the program of the command line).
 */
export function keepalivedCheckDenial(script: string, readScript: (file: string) => string | undefined, state: SelinuxState): string | undefined {
  if (state.mode !== "Enforcing") return undefined;
  const program = script.trim().split(/\s+/)[0] ?? "";
  if (program.startsWith("/usr/libexec/keepalived/")) return undefined; // keepalived_unconfined_script_t
  if (state.booleans?.["keepalived_connect_any"] === true) return undefined;
  const text = `${script}\n${readScript(program) ?? ""}`;
  for (const port of checkPorts(text)) {
    if (portTypeAllowed(port)) continue;
    return `SELinux is enforcing: the check ${JSON.stringify(script)} runs in keepalived_t (not under /usr/libexec/keepalived) and keepalived_t may not connect to tcp port ${port} (avc: denied { name_connect } … scontext=system_u:system_r:keepalived_t:s0 … tclass=tcp_socket permissive=0) while the boolean keepalived_connect_any is off, so the check always fails`;
  }
  return undefined;
}

/** The vrrp_script command lines of a keepalived.conf. */
export function vrrpScripts(conf: string): string[] {
  return [...conf.matchAll(/^\s*script\s+"([^"]*)"/gm)].map((m) => m[1]!);
}
