// Timestamps of a process's file calls, for scripts/commit_phases.py: loaded
// with LD_PRELOAD, it notes the real-time clock (ns since the Unix epoch)
// before and after each pwrite, pread, fsync, fdatasync, fcntl lock and
// ftruncate (no ptrace: nothing else is slowed), and at exit writes them to
// $IO_STAMPS, a line a call:
//   tid op fd start_ns end_ns bytes path
// (`bytes`: of a write or read; of an fcntl lock, its type * 1e6 + offset).
//   gcc -O2 -shared -fPIC -o /tmp/io_stamps.so scripts/io_stamps.c -ldl
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MAX_EV (1 << 22)
struct ev { long long t0, t1; int tid, op, fd, path; long bytes; };
static struct ev evs[MAX_EV];
static atomic_int nev;
static char names[256][128]; static atomic_int nnames; static int paths[4096];
static const char *ops[] = {"pwrite", "pread", "fsync", "fdatasync", "fcntl", "ftruncate"};

static long long now(void) { struct timespec t; clock_gettime(CLOCK_REALTIME, &t); return t.tv_sec * 1000000000LL + t.tv_nsec; }
static void rec(int op, int fd, long long t0, long bytes) {
  long long t1 = now();
  int i = atomic_fetch_add(&nev, 1);
  if (i >= MAX_EV) return;
  int p = 0;
  if (fd >= 0 && fd < 4096) {
    if (paths[fd] == 0) {
      char l[64], buf[128]; snprintf(l, sizeof l, "/proc/self/fd/%d", fd);
      ssize_t n = readlink(l, buf, 127); if (n <= 0) strcpy(buf, "?"); else buf[n] = 0;
      int k = atomic_fetch_add(&nnames, 1) + 1; if (k < 256) { strcpy(names[k], buf); paths[fd] = k; }
    }
    p = paths[fd];
  }
  evs[i] = (struct ev){t0, t1, (int)syscall(SYS_gettid), op, fd, p, bytes};
}
#define REAL(name, ret, ...) static ret (*real_##name)(__VA_ARGS__); if (!real_##name) real_##name = dlsym(RTLD_NEXT, #name);
ssize_t pwrite64(int fd, const void *b, size_t n, off_t o) { REAL(pwrite64, ssize_t, int, const void *, size_t, off_t) long long t = now(); ssize_t r = real_pwrite64(fd, b, n, o); rec(0, fd, t, n); return r; }
ssize_t pwrite(int fd, const void *b, size_t n, off_t o) { REAL(pwrite, ssize_t, int, const void *, size_t, off_t) long long t = now(); ssize_t r = real_pwrite(fd, b, n, o); rec(0, fd, t, n); return r; }
ssize_t pread64(int fd, void *b, size_t n, off_t o) { REAL(pread64, ssize_t, int, void *, size_t, off_t) long long t = now(); ssize_t r = real_pread64(fd, b, n, o); rec(1, fd, t, n); return r; }
ssize_t pread(int fd, void *b, size_t n, off_t o) { REAL(pread, ssize_t, int, void *, size_t, off_t) long long t = now(); ssize_t r = real_pread(fd, b, n, o); rec(1, fd, t, n); return r; }
int fsync(int fd) { REAL(fsync, int, int) long long t = now(); int r = real_fsync(fd); rec(2, fd, t, 0); return r; }
int fdatasync(int fd) { REAL(fdatasync, int, int) long long t = now(); int r = real_fdatasync(fd); rec(3, fd, t, 0); return r; }
int ftruncate(int fd, off_t l) { REAL(ftruncate, int, int, off_t) long long t = now(); int r = real_ftruncate(fd, l); rec(5, fd, t, l); return r; }
int ftruncate64(int fd, off_t l) { REAL(ftruncate64, int, int, off_t) long long t = now(); int r = real_ftruncate64(fd, l); rec(5, fd, t, l); return r; }
static int do_fcntl(const char *name, int fd, int cmd, void *arg) {
  static int (*rf)(int, int, ...); static int (*rf64)(int, int, ...);
  int (*f)(int, int, ...);
  if (name[5] == '6') { if (!rf64) rf64 = dlsym(RTLD_NEXT, "fcntl64"); f = rf64; } else { if (!rf) rf = dlsym(RTLD_NEXT, "fcntl"); f = rf; }
  long long t = now(); int r = f(fd, cmd, arg);
  if (cmd == F_SETLK || cmd == F_SETLKW || cmd == F_OFD_SETLK) { struct flock *l = arg; rec(4, fd, t, l->l_type * 1000000L + l->l_start % 1000000); }
  return r;
}
int fcntl(int fd, int cmd, ...) { va_list a; va_start(a, cmd); void *arg = va_arg(a, void *); va_end(a); return do_fcntl("fcntl", fd, cmd, arg); }
int fcntl64(int fd, int cmd, ...) { va_list a; va_start(a, cmd); void *arg = va_arg(a, void *); va_end(a); return do_fcntl("fcntl64", fd, cmd, arg); }
int close(int fd) { REAL(close, int, int) if (fd >= 0 && fd < 4096) paths[fd] = 0; return real_close(fd); }
__attribute__((destructor)) static void dump(void) {
  const char *out = getenv("IO_STAMPS"); if (!out) return;
  FILE *f = fopen(out, "w"); if (!f) return;
  int n = atomic_load(&nev); if (n > MAX_EV) n = MAX_EV;
  for (int i = 0; i < n; i++) { struct ev *e = &evs[i]; fprintf(f, "%d %s %d %lld %lld %ld %s\n", e->tid, ops[e->op], e->fd, e->t0, e->t1, e->bytes, e->path ? names[e->path] : "?"); }
  fclose(f);
}
