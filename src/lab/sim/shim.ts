// The shims that put the simulator on a lab host's PATH (<lab>/simbin, layered over /usr/local/bin, and the
// commands a simulated package brings, written by the simulator itself). No imports beyond util: lab.ts and
// the simulator both use it.
import { shq } from "./util.js";

/**
 * The resident simulator's port on each host's loopback. Every host has its own network namespace, so every
 * host uses the same port. Below the NodePort range and none of the ports kubeadm's preflight checks.
 */
export const RESIDENT_PORT = 7437;

/** Written by the resident simulator (0600) once it listens; a client shows it is root by sending it. */
export const KEY = "/run/kubesim/resident.key";

/**
 * With the compiled client (client.c, sim-client.ts), the bash client of each tool lives in this
 * directory beside it (<lab>/simbin/.kubesim-sh/TOOL; /usr/local/bin/.kubesim-sh/TOOL on a host).
 */
export const BASH_CLIENT_DIR = ".kubesim-sh";

export interface ShimOptions {
  labDir: string;
  tool: string;
  /** node and dist/lab/sim/main.js as the host sees them */
  node: string;
  main: string;
  /** Talk to the resident simulator (resident.ts) instead of starting Node for each command. */
  resident: boolean;
}

/**
 * A tool's shim. One Node start per command: `exec node main.js TOOL "$@"`. Resident: a bash client
 * (bash's /dev/tcp) that sends its PID and argv to the host's resident simulator, which opens the client's
 * stdio through /proc/PID/fd and reads its environment, cwd and umask there; the client waits for "+" (the
 * command started) and then its exit code. With no simulator listening the first client starts one (its
 * own session, so a command's process group being killed does not take it along) and waits up to 5 s for
 * it. It falls back to a Node start of its own when not root (the resident simulator runs as root; a
 * user's command must meet the kernel's file permissions as that user), when its stdin, stdout or stderr is
 * a regular file (a reopened file has an offset of its own, so the shell's writes after the command would
 * overwrite the command's output) or a socket (open(2) of /proc/PID/fd/N fails with ENXIO), when KUBESIM_RESIDENT=0 is set in its environment, or when no simulator
 * answered "+".
 */
export function simShim(o: ShimOptions): string {
  const direct = `KUBESIM_LAB_DIR=${shq(o.labDir)} exec ${shq(o.node)} ${shq(o.main)} ${o.tool} "$@"\n`;
  if (!o.resident) return `#!/bin/sh\n${direct}`;
  const connect = `{ exec 3<>/dev/tcp/127.0.0.1/${RESIDENT_PORT}; } 2>/dev/null`;
  return [
    "#!/bin/bash",
    "# kubesmith lab: client of this host's resident node simulator (src/lab/sim/shim.ts, resident.ts)",
    // a regular file as stdio: the shell's file offset must move with what the command reads or writes;
    // a socket cannot be opened through /proc
    `if [ "$EUID" = 0 ] && [ "\${KUBESIM_RESIDENT:-1}" != 0 ] && ! [ -f /dev/stdin -o -f /dev/stdout -o -f /dev/stderr -o -S /dev/stdin -o -S /dev/stdout -o -S /dev/stderr ]; then`,
    `  if ! ${connect}; then`,
    `    KUBESIM_LAB_DIR=${shq(o.labDir)} setsid -f ${shq(o.node)} ${shq(o.main)} --resident ${shq(o.labDir)} </dev/null >/dev/null 2>&1`,
    `    for _ in $(seq 100); do sleep 0.05; [ -s ${KEY} ] && ${connect} && break; done`,
    "  fi",
    "  if { : >&3; } 2>/dev/null; then",
    // one write: a second small write would wait for the first's ACK (Nagle against delayed ACK)
    `    { read -r key <${KEY}; } 2>/dev/null || key=`,
    `    printf '%s\\0' kubesim1 "$key" "$$" "$(($# + 1))" ${shq(o.tool)} "$@" >&3`,
    "    if IFS= read -r -u 3 ack && [ \"$ack\" = + ]; then",
    "      IFS= read -r -u 3 code",
    "      case $code in",
    "        ''|*[!0-9]*) echo 'kubesim: the resident simulator went away during the command' >&2; exit 70 ;;",
    "      esac",
    '      exit "$code"',
    "    fi",
    "    exec 3>&-",
    "  fi",
    "fi",
    direct,
  ].join("\n");
}
