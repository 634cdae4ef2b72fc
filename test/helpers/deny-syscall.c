// deny-syscall ERRNO NAME[,NAME] CMD [ARG...]: run CMD under a seccomp filter that fails the named
// system calls with ERRNO (the others pass). Tests use it to give runsc a host where seccomp(2) or
// ptrace(2) is refused for real, as a kernel without CONFIG_SECCOMP or a container profile does.
// Root only: without CAP_SYS_ADMIN the kernel wants no_new_privs, which would change what runsc sees.
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__)
#define ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define ARCH AUDIT_ARCH_AARCH64
#else
#error "x86_64 or aarch64 only"
#endif

static int number(const char *name) {
  if (!strcmp(name, "seccomp")) return __NR_seccomp;
  if (!strcmp(name, "ptrace")) return __NR_ptrace;
  return -1;
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: deny-syscall ERRNO NAME[,NAME] CMD [ARG...]\n");
    return 2;
  }
  int err = atoi(argv[1]);
  struct sock_filter f[32];
  int n = 0;
  f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
  f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ARCH, 1, 0);
  f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
  f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
  for (char *s = strtok(argv[2], ","); s; s = strtok(NULL, ",")) {
    int nr = number(s);
    if (nr < 0 || n > 28) {
      fprintf(stderr, "deny-syscall: unknown or too many system calls: %s\n", s);
      return 2;
    }
    f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)nr, 0, 1);
    f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ((unsigned)err & SECCOMP_RET_DATA));
  }
  f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
  struct sock_fprog prog = {.len = (unsigned short)n, .filter = f};
  if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0)) {
    perror("deny-syscall: prctl(PR_SET_SECCOMP)");
    return 2;
  }
  execvp(argv[3], argv + 3);
  perror(argv[3]);
  return 127;
}
