/*
 * gvisor-preflight: `gvisor-doctor preflight` as a tiny static executable, for application
 * images without a shell (distroless, scratch). Same tells, options, messages, JSON and exit
 * codes as the binary and dist/gvisor-preflight.sh (test/e2e/preflight.test.ts runs all three).
 * No dmesg program is needed: the kernel log is read with syslog(2), as dmesg does.
 * Built by scripts/build.ts with musl-gcc -static -Os (about 30 KB); GVD_VERSION is stamped.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/klog.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#ifndef GVD_VERSION
#define GVD_VERSION "0.1.0-dev"
#endif

extern char **environ;

static const char HELP[] =
    "Usage: gvisor-preflight [--json] [--require] [-- CMD ARGS...]\n"
    "\n"
    "Answer \"am I running under gVisor?\" from inside a container, from independent tells:\n"
    "  /proc/gvisor/kernel_is_gvisor reads \"gvisor\" (runsc --gvisor-marker-file; cannot be faked) \xc2\xb7\n"
    "  /proc/sentry-meminfo exists (gVisor only) \xc2\xb7 the kernel log starts with \"Starting gVisor\" \xc2\xb7\n"
    "  uname -r ends in -gvisor (or is 4.4.0 on older releases)\n"
    "\n"
    "Options:\n"
    "  --require     Exit 1 when not running under gVisor\n"
    "  -- CMD ARGS   After the check passes, exec CMD (it replaces this program: same PID,\n"
    "                signals and exit code pass straight through). Implies --require.\n"
    "  --json        Print the result as JSON on stdout\n"
    "  -v            Show each tell's evidence\n"
    "\n"
    "Dockerfile:\n"
    "  ENTRYPOINT [\"/gvisor-preflight\", \"--require\", \"--\"]\n"
    "  CMD [\"/app/server\"]\n"
    "\n"
    "Exit codes: 0 under gVisor (or not required) \xc2\xb7 1 not under gVisor with --require \xc2\xb7\n"
    "            2 usage error \xc2\xb7 127 CMD not found \xc2\xb7 otherwise CMD's own exit code\n";

static void usage_error(const char *msg, const char *arg, const char *hint) {
  fprintf(stderr, "gvisor-doctor: ");
  fprintf(stderr, msg, arg);
  fprintf(stderr, "\n%s\n", hint ? hint : "see: gvisor-preflight --help");
  exit(2);
}

static int is_exec_file(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISREG(st.st_mode) && access(p, X_OK) == 0;
}

/* platform/which.ts: a name with a slash as is, else the first executable file on PATH. */
static const char *which(const char *name, char *buf, size_t len) {
  if (strchr(name, '/')) return is_exec_file(name) ? name : NULL;
  const char *path = getenv("PATH");
  if (!path) return NULL;
  while (*path) {
    const char *end = strchr(path, ':');
    size_t n = end ? (size_t)(end - path) : strlen(path);
    if (n > 0 && snprintf(buf, len, "%.*s/%s", (int)n, path, name) < (int)len && is_exec_file(buf)) return buf;
    if (!end) break;
    path = end + 1;
  }
  return NULL;
}

static struct {
  int marker, sentry, uname_tell, inside, required;
  char release[65];
  char *dmesg_line; /* NULL when the log could not be read */
  char dmesg_error[128];
  const char *tells[4];
  int ntells;
} s;

/* The kernel log's first line, without the "<6>" priority dmesg also strips. */
static void read_klog(void) {
  int size = klogctl(10 /* SYSLOG_ACTION_SIZE_BUFFER */, NULL, 0);
  if (size <= 0) size = 1 << 16;
  char *buf = malloc((size_t)size + 1);
  int n = buf ? klogctl(3 /* SYSLOG_ACTION_READ_ALL */, buf, size) : -1;
  if (n < 0) {
    snprintf(s.dmesg_error, sizeof s.dmesg_error, "syslog(2): %s", strerror(errno));
    free(buf);
    return;
  }
  buf[n] = 0;
  char *line = buf;
  if (line[0] == '<') {
    char *close = strchr(line, '>');
    if (close && close - line <= 4) line = close + 1;
  }
  line[strcspn(line, "\n")] = 0;
  s.dmesg_line = line;
}

/* The marker runsc --gvisor-marker-file writes, "gvisor\n": a workload under runc cannot fake it. */
static int read_marker(void) {
  char b[16];
  int fd = open("/proc/gvisor/kernel_is_gvisor", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = read(fd, b, sizeof b - 1);
  close(fd);
  if (n < 0) return 0;
  while (n > 0 && (b[n - 1] == '\n' || b[n - 1] == ' ' || b[n - 1] == '\t')) n--;
  b[n] = 0;
  return strcmp(b, "gvisor") == 0;
}

static void detect(void) {
  struct utsname u;
  s.marker = read_marker();
  s.sentry = access("/proc/sentry-meminfo", F_OK) == 0;
  if (uname(&u) == 0) snprintf(s.release, sizeof s.release, "%s", u.release);
  size_t rl = strlen(s.release);
  s.uname_tell = (rl >= 7 && strcmp(s.release + rl - 7, "-gvisor") == 0) || strcmp(s.release, "4.4.0") == 0;
  read_klog();
  if (s.marker) s.tells[s.ntells++] = "/proc/gvisor/kernel_is_gvisor";
  if (s.sentry) s.tells[s.ntells++] = "/proc/sentry-meminfo";
  if (s.dmesg_line && strstr(s.dmesg_line, "Starting gVisor")) s.tells[s.ntells++] = "dmesg";
  if (s.uname_tell) s.tells[s.ntells++] = "uname";
  s.inside = s.ntells > 0;
}

static void render(FILE *f, int verbose) {
  if (s.inside) {
    fprintf(f, "\xe2\x9c\x93 running under gVisor (");
    for (int i = 0; i < s.ntells; i++) fprintf(f, "%s%s", i ? ", " : "", s.tells[i]);
    fprintf(f, ")\n");
  } else {
    fprintf(f, "%s not running under gVisor: no tell matched\n", s.required ? "\xe2\x9c\x97" : "!");
    fprintf(f, "  If this is a 'docker build' RUN step: RUN steps never run under runsc."
               " Run the preflight at container start.\n");
    fprintf(f, "  Otherwise start the container with the gVisor runtime: docker run --runtime=runsc \xe2\x80\xa6"
               " (Kubernetes: runtimeClassName: gvisor)\n");
  }
  if (verbose || !s.inside) {
    fprintf(f, "  /proc/gvisor/kernel_is_gvisor: %s\n", s.marker ? "gvisor" : "absent");
    fprintf(f, "  /proc/sentry-meminfo: %s\n", s.sentry ? "present" : "absent");
    if (s.dmesg_line) fprintf(f, "  dmesg: %s\n", s.dmesg_line);
    else fprintf(f, "  dmesg: unavailable (%s)\n", s.dmesg_error);
    fprintf(f, "  uname -r: %s\n", s.release);
  }
}

/* A JSON string as JSON.stringify writes it (valid UTF-8 passes through). */
static void json_str(const char *t) {
  if (!t) {
    fputs("null", stdout);
    return;
  }
  putchar('"');
  for (const unsigned char *p = (const unsigned char *)t; *p; p++) {
    if (*p == '"' || *p == '\\') printf("\\%c", *p);
    else if (*p == '\n') fputs("\\n", stdout);
    else if (*p == '\t') fputs("\\t", stdout);
    else if (*p == '\r') fputs("\\r", stdout);
    else if (*p == '\b') fputs("\\b", stdout);
    else if (*p == '\f') fputs("\\f", stdout);
    else if (*p < 0x20) printf("\\u%04x", *p);
    else putchar(*p);
  }
  putchar('"');
}

static void print_json(void) {
  printf("{\n  \"schemaVersion\": 1,\n  \"tool\": {\n    \"name\": \"gvisor-doctor\",\n    \"version\": ");
  json_str(GVD_VERSION);
  printf("\n  },\n  \"sandboxed\": %s,\n  \"required\": %s,\n", s.inside ? "true" : "false",
         s.required ? "true" : "false");
  if (!s.ntells) printf("  \"tells\": [],\n");
  else {
    printf("  \"tells\": [\n");
    for (int i = 0; i < s.ntells; i++) printf("    \"%s\"%s\n", s.tells[i], i + 1 < s.ntells ? "," : "");
    printf("  ],\n");
  }
  printf("  \"evidence\": {\n    \"kernelIsGvisor\": %s,\n", s.marker ? "true" : "false");
  printf("    \"sentryMeminfo\": %s,\n    \"dmesgFirstLine\": ", s.sentry ? "true" : "false");
  json_str(s.dmesg_line);
  printf(",\n    \"dmesgError\": ");
  json_str(s.dmesg_line ? NULL : s.dmesg_error);
  printf(",\n    \"kernelRelease\": ");
  json_str(s.release);
  printf("\n  }\n}\n");
}

int main(int argc, char **argv) {
  int json = 0, verbose = 0, require = 0, i = 1;
  char **cmd = NULL;
  for (; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--") == 0) {
      cmd = argv + i + 1;
      break;
    }
    if (strcmp(a, "--require") == 0) require = 1;
    else if (strcmp(a, "--json") == 0) json = 1;
    else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) verbose = 1;
    else if (strcmp(a, "--no-color") == 0) continue;
    else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      fputs(HELP, stdout);
      return 0;
    } else if (a[0] == '-') {
      char opt[64];
      snprintf(opt, sizeof opt, "%.*s", (int)strcspn(a, "="), a);
      usage_error("unknown option %s for 'preflight'", opt, NULL);
    } else usage_error("unexpected argument '%s' for 'preflight'", a, NULL);
  }
  if (cmd && !cmd[0])
    usage_error("nothing to run after --%s", "", "usage: gvisor-doctor preflight --require -- CMD [ARGS...]");
  s.required = require || cmd;
  detect();
  if (json) print_json();
  else if (!cmd) render(stdout, verbose);
  else if (!s.inside || verbose) render(stderr, verbose); /* stdout belongs to the app */
  fflush(stdout);
  if (!s.inside && s.required) {
    if (cmd) fprintf(stderr, "gvisor-doctor preflight: refusing to start %s: not running under gVisor\n", cmd[0]);
    return 1;
  }
  if (!cmd) return 0;
  char buf[4096];
  const char *file = which(cmd[0], buf, sizeof buf);
  if (!file) {
    const char *path = getenv("PATH");
    fprintf(stderr, "error: %s: command not found (PATH=%s)\n", cmd[0], path ? path : "");
    return 127;
  }
  execve(file, cmd, environ);
  fprintf(stderr, "error: %s: %s\n", cmd[0], strerror(errno));
  return 126;
}
