/*
 * kubesmith lab: the compiled client of a host's resident node simulator (shim.ts, resident.ts).
 *
 * The same protocol as the bash client in shim.ts, for the common case only: root, stdio that is not a
 * regular file or a socket, KUBESIM_RESIDENT not 0, a simulator that listens and answers "+". Anything
 * else runs the bash client of the same tool (BASH_CLIENT_DIR/TOOL beside this program), which starts a
 * simulator when none listens or runs the command with a Node start of its own. Every simulated command in
 * <lab>/simbin is a link to this one program; the tool is the name it was started by (/proc/self/exe, as
 * the mount namespace sees it: /usr/local/bin/kubeadm on a lab host).
 *
 * Why: a bash start costs ≈ 1 ms of CPU on the lab machines, most of a simulated command (issue 12); a
 * static program without a dynamic loader costs a fraction of it.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef RESIDENT_PORT
#error "RESIDENT_PORT must be defined (shim.ts)"
#endif
#ifndef KEY_FILE
#error "KEY_FILE must be defined (shim.ts)"
#endif
#ifndef HARDWARE_FILE
#error "HARDWARE_FILE must be defined (sim/hardware.ts)"
#endif
#ifndef BASH_CLIENT_DIR
#error "BASH_CLIENT_DIR must be defined (shim.ts)"
#endif

/* This program's path; its last component is the tool. */
static char self[4096];
static const char *tool = "";

/* The bash client: every case but the common one. */
static void fallback(char **argv) __attribute__((noreturn));
static void fallback(char **argv) {
  char path[4200];
  close(3);
  size_t dir = (size_t)(tool - self);
  if (snprintf(path, sizeof path, "%.*s" BASH_CLIENT_DIR "/%s", (int)dir, self, tool) >= (int)sizeof path) _exit(127);
  execv(path, argv);
  dprintf(2, "kubesim: cannot run %s: %s\n", path, strerror(errno));
  _exit(127);
}

/* A regular file (its offset must move with the shell's) or a socket (not openable through /proc). */
static int plain_stdio(void) {
  for (int fd = 0; fd <= 2; fd++) {
    struct stat st;
    if (fstat(fd, &st) != 0) continue; /* closed: the simulator handles it */
    if (S_ISREG(st.st_mode) || S_ISSOCK(st.st_mode)) return 0;
  }
  return 1;
}

/* Read one line ending in '\n' from fd into buf (without the newline); -1 when the connection ends first. */
static int read_line(int fd, char *buf, size_t size) {
  size_t n = 0;
  for (;;) {
    char c;
    ssize_t r = read(fd, &c, 1);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return -1;
    if (c == '\n') break;
    if (n + 1 < size) buf[n++] = c;
  }
  buf[n] = 0;
  return (int)n;
}

/* Does the simulated hardware (JSON) say "cgroup": "v1"? As lab.ts STAT_SHIM's grep -E. */
static int cgroup_v1(void) {
  static char buf[65536];
  int fd = open(HARDWARE_FILE, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = 0;
  for (char *p = strstr(buf, "\"cgroup\""); p; p = strstr(p + 1, "\"cgroup\"")) {
    char *q = p + 8;
    q += strspn(q, " \t\r\n");
    if (*q != ':') continue;
    q++;
    q += strspn(q, " \t\r\n");
    if (strncmp(q, "\"v1\"", 4) == 0) return 1;
  }
  return 0;
}

/*
 * `stat` on a lab host (lab.ts STAT_SHIM, which this replaces when the client is built): the product's one
 * question about the cgroup hierarchy is answered from the host's simulated hardware, every other stat is
 * the real one (no shell started in between).
 */
static int stat_tool(int argc, char **argv) {
  static const char *const cgroup[] = {"-fc %T /sys/fs/cgroup/", "-fc %T /sys/fs/cgroup", "-f -c %T /sys/fs/cgroup/", "-f -c %T /sys/fs/cgroup"};
  char joined[64];
  size_t at = 0;
  int fits = 1;
  joined[0] = 0;
  for (int i = 1; i < argc && fits; i++) {
    size_t l = strlen(argv[i]);
    if (at + l + 2 > sizeof joined) fits = 0;
    else {
      if (i > 1) joined[at++] = ' ';
      memcpy(joined + at, argv[i], l);
      at += l;
      joined[at] = 0;
    }
  }
  for (size_t i = 0; fits && i < sizeof cgroup / sizeof cgroup[0]; i++) {
    if (strcmp(joined, cgroup[i]) == 0) {
      puts(cgroup_v1() ? "tmpfs" : "cgroup2fs");
      return 0;
    }
  }
  execv("/usr/bin/stat", argv);
  dprintf(2, "kubesim: cannot run /usr/bin/stat: %s\n", strerror(errno));
  return 127;
}

int main(int argc, char **argv) {
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) {
    dprintf(2, "kubesim: /proc/self/exe: %s\n", strerror(errno));
    return 127;
  }
  self[n] = 0;
  char *slash = strrchr(self, '/');
  tool = slash ? slash + 1 : self;
  if (strcmp(tool, "stat") == 0) return stat_tool(argc, argv);
  const char *resident = getenv("KUBESIM_RESIDENT");
  if (geteuid() != 0 || (resident && strcmp(resident, "0") == 0) || !plain_stdio()) fallback(argv);

  int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) fallback(argv);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons(RESIDENT_PORT);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(s, (struct sockaddr *)&a, sizeof a) != 0) {
    close(s);
    fallback(argv);
  }
  /* the simulator looks for the connection on the client's fd 3 */
  if (s != 3) {
    if (dup3(s, 3, O_CLOEXEC) < 0) fallback(argv);
    close(s);
  }
  int one = 1;
  setsockopt(3, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);

  char key[256] = "";
  int kf = open(KEY_FILE, O_RDONLY | O_CLOEXEC);
  if (kf >= 0) {
    ssize_t k = read(kf, key, sizeof key - 1);
    close(kf);
    key[k > 0 ? k : 0] = 0;
    char *nl = strchr(key, '\n');
    if (nl) *nl = 0;
  }

  /* one write: kubesim1 KEY PID ARGC TOOL ARGS…, each NUL-terminated */
  char pid[24], count[24];
  snprintf(pid, sizeof pid, "%d", (int)getpid());
  snprintf(count, sizeof count, "%d", argc);
  const char *head[] = {"kubesim1", key, pid, count, tool};
  size_t len = 0;
  for (int i = 0; i < 5; i++) len += strlen(head[i]) + 1;
  for (int i = 1; i < argc; i++) len += strlen(argv[i]) + 1;
  char *req = malloc(len);
  if (!req) fallback(argv);
  size_t at = 0;
  for (int i = 0; i < 5; i++) {
    size_t l = strlen(head[i]) + 1;
    memcpy(req + at, head[i], l);
    at += l;
  }
  for (int i = 1; i < argc; i++) {
    size_t l = strlen(argv[i]) + 1;
    memcpy(req + at, argv[i], l);
    at += l;
  }
  for (size_t sent = 0; sent < len;) {
    ssize_t w = write(3, req + sent, len - sent);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) fallback(argv);
    sent += (size_t)w;
  }
  free(req);

  char line[64];
  if (read_line(3, line, sizeof line) < 0 || strcmp(line, "+") != 0) fallback(argv);
  if (read_line(3, line, sizeof line) <= 0 || strspn(line, "0123456789") != strlen(line)) {
    dprintf(2, "kubesim: the resident simulator went away during the command\n");
    return 70;
  }
  return atoi(line);
}
