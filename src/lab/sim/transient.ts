// Transient package-manager failures a lab fault can play (fault `transient: KIND`), with what the real
// tools print and exit with. Loaded by main.ts only when such a fault matches.
//
//  lock   apt-get: another apt/dpkg holds the lock. apt-pkg/contrib/fileutl.cc GetLock "Could not get lock
//         %s. It is held by process %d (%s)" and its note "Be aware that removing the lock file is not a
//         solution and may break your system."; then apt-pkg/deb/debsystem.cc "Unable to acquire the dpkg
//         frontend lock (%s), is another process using it?" (install) or apt-get's "Unable to lock
//         directory %s" (update, the lists lock). Exit 100.
//         dnf 4 (Rocky 9) does not fail on a held lock: dnf/lock.py waits, printing "Waiting for process with
//         pid %d to finish."; the lab prints that, waits a moment, and runs the command.
//  dns    apt-get: methods/connect.cc "Temporary failure resolving '%s'" (EAI_AGAIN). `update` reports it as
//         a warning and exits 0 ("W: Failed to fetch … ", "W: Some index files failed to download. They have
//         been ignored, or old ones used instead."); `install` fails downloading the .deb ("E: Failed to fetch
//         …", "E: Unable to fetch some archives, maybe run apt-get update or try with --fix-missing?"), exit
//         100. Not modelled for dnf (libcurl's error 6 does not tell a temporary failure from a wrong name).
//  503    a mirror answering 503. apt-get: "Err:N URL" / "  503  Service Unavailable [IP: …]", then
//         "E: Failed to fetch URL  503  Service Unavailable [IP: …]", exit 100. dnf 4 (librepo): "Errors during
//         downloading metadata for repository 'ID':" / "  - Status code: 503 for URL (IP: …)" / "Error: Failed
//         to download metadata for repo 'ID': Cannot download repomd.xml: …", exit 1.
//  reset  the connection dropped. apt-get: "Connection reset by peer" (strerror(ECONNRESET)) as the reason of
//         a failed fetch; dnf: libcurl "Curl error (56): Failure when receiving data from the peer … Connection
//         reset by peer". Exit 100 (apt-get install; update: a warning, exit 0) / 1 (dnf).

export const TRANSIENT_KINDS = ["lock", "dns", "503", "reset"] as const;
export type TransientKind = (typeof TRANSIENT_KINDS)[number];

const DEB_MIRROR = "http://deb.debian.org/debian";
const RPM_MIRROR = "https://dl.rockylinux.org/pub/rocky/9/BaseOS/x86_64/os";
const IP = "[IP: 151.101.2.132 80]";

/** What the tool prints and exits with; `proceed`: print, wait, then run the command after all. */
export interface TransientOutcome {
  stdout: string;
  stderr: string;
  code: number;
  proceed?: boolean;
}

export function transientOutcome(kind: TransientKind, argv: readonly string[]): TransientOutcome {
  const [tool = "", sub = ""] = argv.filter((a) => !a.startsWith("-"));
  const update = sub === "update";
  if (tool === "apt-get" || tool === "apt") {
    const release = `${DEB_MIRROR} bookworm InRelease`;
    const inRelease = `${DEB_MIRROR}/dists/bookworm/InRelease`;
    const deb = `${DEB_MIRROR}/pool/main/s/socat/socat_1.7.4.4-2_amd64.deb`;
    switch (kind) {
      case "lock":
        return update
          ? {
              stdout: "",
              stderr:
                "E: Could not get lock /var/lib/apt/lists/lock. It is held by process 1234 (apt-get)\nN: Be aware that removing the lock file is not a solution and may break your system.\nE: Unable to lock directory /var/lib/apt/lists/\n",
              code: 100,
            }
          : {
              stdout: "",
              stderr:
                "E: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process 1234 (apt-get)\nN: Be aware that removing the lock file is not a solution and may break your system.\nE: Unable to acquire the dpkg frontend lock (/var/lib/dpkg/lock-frontend), is another process using it?\n",
              code: 100,
            };
      case "dns":
      case "reset": {
        const why = kind === "dns" ? "Temporary failure resolving 'deb.debian.org'" : `Connection reset by peer ${IP}`;
        return update
          ? {
              stdout: `Err:1 ${release}\n  ${why}\nReading package lists... Done\n`,
              stderr: `W: Failed to fetch ${inRelease}  ${why}\nW: Some index files failed to download. They have been ignored, or old ones used instead.\n`,
              code: 0,
            }
          : {
              stdout: `Reading package lists... Done\nErr:1 ${deb}\n  ${why}\n`,
              stderr: `E: Failed to fetch ${deb}  ${why}\nE: Unable to fetch some archives, maybe run apt-get update or try with --fix-missing?\n`,
              code: 100,
            };
      }
      case "503":
        return update
          ? {
              stdout: `Err:1 ${release}\n  503  Service Unavailable ${IP}\nReading package lists... Done\n`,
              stderr: `E: Failed to fetch ${inRelease}  503  Service Unavailable ${IP}\nE: Some index files failed to download. They have been ignored, or old ones used instead.\n`,
              code: 100,
            }
          : {
              stdout: `Reading package lists... Done\nErr:1 ${deb}\n  503  Service Unavailable ${IP}\n`,
              stderr: `E: Failed to fetch ${deb}  503  Service Unavailable ${IP}\nE: Unable to fetch some archives, maybe run apt-get update or try with --fix-missing?\n`,
              code: 100,
            };
    }
  }
  if (tool === "dnf" || tool === "yum") {
    const repomd = `${RPM_MIRROR}/repodata/repomd.xml`;
    switch (kind) {
      case "lock":
        return { stdout: "Waiting for process with pid 1234 to finish.\n", stderr: "", code: 0, proceed: true };
      case "503":
        return {
          stdout: "",
          stderr: `Errors during downloading metadata for repository 'baseos':\n  - Status code: 503 for ${repomd} (IP: 151.101.2.132)\nError: Failed to download metadata for repo 'baseos': Cannot download repomd.xml: Cannot download repodata/repomd.xml: All mirrors were tried\n`,
          code: 1,
        };
      case "reset":
        return {
          stdout: "",
          stderr: `Errors during downloading metadata for repository 'baseos':\n  - Curl error (56): Failure when receiving data from the peer for ${repomd} [Recv failure: Connection reset by peer]\nError: Failed to download metadata for repo 'baseos': Cannot download repomd.xml: Curl error (56): Failure when receiving data from the peer for ${repomd} [Recv failure: Connection reset by peer]\n`,
          code: 1,
        };
      case "dns":
        break;
    }
  }
  return { stdout: "", stderr: `kubesim: lab fault transient '${kind}' is not modelled for ${tool || "this command"}\n`, code: 70 };
}
