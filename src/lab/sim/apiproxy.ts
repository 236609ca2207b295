#!/usr/bin/env node
// A TCP pass-through that lets a joined control plane "serve" the Kubernetes API: every connection to
// --listen is piped, bytes unchanged (TLS stays end to end), to --target, the API simulator on the first
// lab's one API store (a unix socket in the lab's cluster directory). It plays this host's kube-apiserver:
// started detached by the simulated `kubeadm init` and `kubeadm join --control-plane`, stopped by PID
// (`kubeadm reset`, the host going down). While it runs, this host's etcd member counts as up (etcd.ts).
//   node apiproxy.js --listen 0.0.0.0:6443 --target unix:/var/kubesmith-lab/x/cluster/apiserver.sock
// Prints "listening on HOST:PORT" once on stdout; errors go to stderr. Stops on SIGTERM/SIGINT.
import { connect, createServer, type Socket } from "node:net";
import { parseArgs } from "node:util";

function hostPort(s: string | undefined, what: string): { host: string; port: number } {
  const m = /^\[?([^\]]*?)\]?:(\d+)$/.exec(s ?? "");
  const port = Number(m?.[2]);
  if (!m || !m[1] || !Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(`apiproxy: --${what} needs HOST:PORT, got ${JSON.stringify(s ?? "")}\n`);
    process.exit(2);
  }
  return { host: m[1], port };
}

const { values } = parseArgs({ options: { listen: { type: "string" }, target: { type: "string" } }, strict: true });
const listen = hostPort(values.listen, "listen");
const unixTarget = values.target?.startsWith("unix:") ? values.target.slice(5) : undefined;
const target = unixTarget ? { host: "", port: 0 } : hostPort(values.target, "target");
const open = new Set<Socket>();

const server = createServer({ noDelay: true }, (client) => {
  const upstream = unixTarget ? connect({ path: unixTarget }) : connect({ host: target.host, port: target.port, noDelay: true });
  open.add(client);
  open.add(upstream);
  const done = (): void => {
    client.destroy();
    upstream.destroy();
    open.delete(client);
    open.delete(upstream);
  };
  client.on("error", done).on("close", done);
  upstream.on("error", done).on("close", done);
  client.pipe(upstream);
  upstream.pipe(client);
});
server.on("error", (e: NodeJS.ErrnoException) => {
  process.stderr.write(`apiproxy: cannot listen on ${listen.host}:${listen.port}: ${e.code === "EADDRINUSE" ? "address already in use" : e.message}\n`);
  process.exit(1);
});
server.listen(listen.port, listen.host, () => {
  process.stdout.write(`listening on ${listen.host}:${listen.port}\n`);
});
const stop = (): void => {
  server.close();
  for (const s of open) s.destroy();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
