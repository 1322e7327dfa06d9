// The spawn of a local job on Linux: clone(CLONE_VM) without CLONE_VFORK.
//
// glibc's posix_spawn also clones with CLONE_VM (the broker's page tables are neither copied
// nor write-protected, as fork would), but adds CLONE_VFORK: the calling thread sleeps until
// the child has exec'd. In the broker that thread is an event loop, and everything queued on
// it waits too, a large part of the time a core sat idle under many concurrent trivial jobs
// (docs/performance.md has the scheduler trace). Here the caller returns as soon as the
// child exists. The price is what the child may do: it runs beside the broker in the broker's
// memory, so from its first instruction to its exec it
//   - touches only the spawn record (argv, envp, paths, its own stack), which the parent
//     keeps until it has reaped the child;
//   - makes raw system calls only: a libc call could write errno or take a lock, and the
//     child's thread pointer is still the parent thread's;
//   - runs with every signal blocked until its handlers are back at their defaults, so no
//     handler of the broker ever runs on the child's stack.
// A step that fails leaves its errno in the record and exits with status 127; the parent
// reads it once the child is reaped (shunter_child_start_error).

#define _GNU_SOURCE
#include "shunter_spawn.h"

#if defined(__linux__) && (defined(__x86_64__) || defined(__aarch64__))

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_close_range
#define SYS_close_range 436
#endif

#if defined(__has_attribute)
#if __has_attribute(no_stack_protector)
#define SHUNTER_NO_STACK_PROTECTOR __attribute__((no_stack_protector))
#endif
#endif
#ifndef SHUNTER_NO_STACK_PROTECTOR
#define SHUNTER_NO_STACK_PROTECTOR
#endif

/// The kernel's signal set size for rt_sigaction/rt_sigprocmask (64 signals).
#define KERNEL_SIGSET_SIZE 8
#define LAST_SIGNAL 64

/// Enough for child_main's frame and clone's trampoline, which make no nested calls beyond
/// inlined system calls; generous because an overflow would write into the broker's heap.
#define CHILD_STACK_SIZE (16 * 1024)

struct shunter_child {
    /// Written by the child only, just before it exits, when a step failed; read by the parent
    /// only after reaping it.
    int start_error;
    int stdout_fd;
    int stderr_fd;
    /// Where close_range is missing (Linux before 5.9): descriptors below this are closed one by one.
    int descriptor_limit;
    /// -1: unchanged.
    long uid;
    long gid;
    long umask;
    /// The one supplementary group setgroups reads (in the record: the child has no memory of its own).
    gid_t group;
    const char *path;
    const char *directory;
    char **argv;
    char **envp;
    // The strings, the argv and envp arrays and the child's stack follow in the same block.
};

static inline __attribute__((always_inline)) long raw_syscall(long number, long a1, long a2, long a3, long a4)
{
#if defined(__x86_64__)
    long result;
    register long r10 __asm__("r10") = a4;
    __asm__ volatile("syscall"
                     : "=a"(result)
                     : "a"(number), "D"(a1), "S"(a2), "d"(a3), "r"(r10)
                     : "rcx", "r11", "memory");
    return result;
#else
    register long x8 __asm__("x8") = number;
    register long x0 __asm__("x0") = a1;
    register long x1 __asm__("x1") = a2;
    register long x2 __asm__("x2") = a3;
    register long x3 __asm__("x3") = a4;
    __asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3) : "memory");
    return x0;
#endif
}

/// Makes `from` the child's descriptor `to`, open across exec.
static inline __attribute__((always_inline)) long place_descriptor(int from, int to)
{
    // dup3 refuses equal descriptors; an equal one only needs its close-on-exec flag cleared.
    if (from == to) return raw_syscall(SYS_fcntl, to, F_SETFD, 0, 0);
    return raw_syscall(SYS_dup3, from, to, 0, 0);
}

SHUNTER_NO_STACK_PROTECTOR __attribute__((noinline))
static int child_main(void *argument)
{
    struct shunter_child *child = argument;
    long rc;

    // The kernel's struct sigaction with SIG_DFL, no flags, an empty mask: all zero. Static,
    // so that no compiler (at -O0) initialises it with a call to memset.
    static const unsigned long default_action[4] = {0, 0, 0, 0};
    for (long sig = 1; sig <= LAST_SIGNAL; sig++) {
        // SIGKILL and SIGSTOP refuse (EINVAL) and are at their defaults anyway. The signals
        // glibc reserves (32, 33) are reset too, as after fork and exec.
        raw_syscall(SYS_rt_sigaction, sig, (long)default_action, 0, KERNEL_SIGSET_SIZE);
    }

    if ((rc = raw_syscall(SYS_setsid, 0, 0, 0, 0)) < 0) goto failed;
    // The output descriptors are 3 or above (the parent sees to it), so placing one never
    // overwrites another.
    if ((rc = raw_syscall(SYS_openat, AT_FDCWD, (long)"/dev/null", O_RDONLY, 0)) < 0) goto failed;
    if ((rc = place_descriptor((int)rc, STDIN_FILENO)) < 0) goto failed;
    if ((rc = place_descriptor(child->stdout_fd, STDOUT_FILENO)) < 0) goto failed;
    if ((rc = place_descriptor(child->stderr_fd, STDERR_FILENO)) < 0) goto failed;
    if (child->directory != NULL && (rc = raw_syscall(SYS_chdir, (long)child->directory, 0, 0, 0)) < 0) goto failed;
    if (child->gid >= 0) {
        if ((rc = raw_syscall(SYS_setgroups, 1, (long)&child->group, 0, 0)) < 0) goto failed;
        if ((rc = raw_syscall(SYS_setresgid, child->gid, child->gid, child->gid, 0)) < 0) goto failed;
    }
    if (child->uid >= 0 && (rc = raw_syscall(SYS_setresuid, child->uid, child->uid, child->uid, 0)) < 0) goto failed;
    if (child->umask >= 0) raw_syscall(SYS_umask, child->umask, 0, 0, 0);

    // Descriptors a library opened without O_CLOEXEC must not leak into jobs. (This is the
    // child's own copy of the descriptor table: no CLONE_FILES.)
    rc = raw_syscall(SYS_close_range, STDERR_FILENO + 1, ~0U, 0, 0);
    if (rc == -ENOSYS) {
        for (long fd = STDERR_FILENO + 1; fd < child->descriptor_limit; fd++) raw_syscall(SYS_close, fd, 0, 0, 0);
    }

    static const unsigned long no_signals = 0;
    raw_syscall(SYS_rt_sigprocmask, SIG_SETMASK, (long)&no_signals, 0, KERNEL_SIGSET_SIZE);
    rc = raw_syscall(SYS_execve, (long)child->path, (long)child->argv, (long)child->envp, 0);

failed:
    __atomic_store_n(&child->start_error, (int)-rc, __ATOMIC_RELEASE);
    raw_syscall(SYS_exit, 127, 0, 0, 0);
    return 127;
}

static size_t round_up(size_t size) { return (size + 15) & ~(size_t)15; }

static size_t count_strings(char *const list[], size_t *bytes)
{
    size_t count = 0;
    for (; list[count] != NULL; count++) *bytes += strlen(list[count]) + 1;
    return count;
}

/// Copies `list` (count strings, then NULL) into `array`, the strings themselves at `*cursor`.
static void copy_strings(char *const list[], size_t count, char **array, char **cursor)
{
    for (size_t i = 0; i < count; i++) {
        size_t length = strlen(list[i]) + 1;
        memcpy(*cursor, list[i], length);
        array[i] = *cursor;
        *cursor += length;
    }
    array[count] = NULL;
}

static char *copy_string(const char *string, char **cursor)
{
    size_t length = strlen(string) + 1;
    char *copy = memcpy(*cursor, string, length);
    *cursor += length;
    return copy;
}

static int descriptor_limit(void)
{
    static int cached = 0;
    int limit = __atomic_load_n(&cached, __ATOMIC_RELAXED);
    if (limit == 0) {
        long open_max = sysconf(_SC_OPEN_MAX);
        limit = open_max > 0 && open_max < 65536 ? (int)open_max : 65536;
        __atomic_store_n(&cached, limit, __ATOMIC_RELAXED);
    }
    return limit;
}

int shunter_spawn_session(
    pid_t *pid, shunter_child **started, const char *path, char *const argv[], char *const envp[],
    const char *directory, int stdout_fd, int stderr_fd)
{
    shunter_spawn_identity unchanged = {-1, -1, -1};
    return shunter_spawn_session_as(pid, started, path, argv, envp, directory, stdout_fd, stderr_fd, unchanged);
}

int shunter_spawn_session_as(
    pid_t *pid, shunter_child **started, const char *path, char *const argv[], char *const envp[],
    const char *directory, int stdout_fd, int stderr_fd, shunter_spawn_identity identity)
{
    size_t string_bytes = strlen(path) + 1 + (directory != NULL ? strlen(directory) + 1 : 0);
    size_t argc = count_strings(argv, &string_bytes);
    size_t envc = count_strings(envp, &string_bytes);
    size_t header = round_up(sizeof(struct shunter_child));
    size_t arrays = round_up((argc + 1 + envc + 1) * sizeof(char *));
    size_t size = header + arrays + round_up(string_bytes) + CHILD_STACK_SIZE;

    char *block = aligned_alloc(16, size);
    if (block == NULL) return ENOMEM;
    struct shunter_child *child = (struct shunter_child *)block;
    child->start_error = 0;
    child->stdout_fd = stdout_fd;
    child->stderr_fd = stderr_fd;
    child->descriptor_limit = descriptor_limit();
    child->uid = identity.uid;
    child->gid = identity.gid;
    child->umask = identity.umask;
    child->group = identity.gid >= 0 ? (gid_t)identity.gid : 0;
    child->argv = (char **)(block + header);
    child->envp = child->argv + argc + 1;
    char *cursor = block + header + arrays;
    child->path = copy_string(path, &cursor);
    child->directory = directory != NULL ? copy_string(directory, &cursor) : NULL;
    copy_strings(argv, argc, child->argv, &cursor);
    copy_strings(envp, envc, child->envp, &cursor);
    char *stack_top = block + size; // 16-byte aligned: size and block both are

    // A broker started with 0, 1 or 2 closed can get its output files there; moved up, they
    // cannot be overwritten by the child's own 0-2.
    int moved[2] = {-1, -1};
    if (stdout_fd <= STDERR_FILENO) child->stdout_fd = moved[0] = fcntl(stdout_fd, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
    if (stderr_fd <= STDERR_FILENO) child->stderr_fd = moved[1] = fcntl(stderr_fd, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
    if (child->stdout_fd < 0 || child->stderr_fd < 0) {
        int error = errno;
        if (moved[0] >= 0) close(moved[0]);
        if (moved[1] >= 0) close(moved[1]);
        free(block);
        return error;
    }

    // The child starts with every signal blocked (the mask is inherited) and unblocks them
    // only once their handlers are at SIG_DFL. The raw call, not pthread_sigmask, which
    // would leave glibc's own two signals unblocked.
    const unsigned long every_signal = ~0UL;
    unsigned long previous = 0;
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &every_signal, &previous, KERNEL_SIGSET_SIZE);
    // SIGCHLD as the exit signal: the child is an ordinary child for waitpid and pidfds.
    int tid = clone(child_main, stack_top, CLONE_VM | SIGCHLD, child);
    int clone_error = errno;
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &previous, NULL, KERNEL_SIGSET_SIZE);
    // The child has its own copy of the descriptor table.
    if (moved[0] >= 0) close(moved[0]);
    if (moved[1] >= 0) close(moved[1]);

    if (tid < 0) {
        free(block);
        return clone_error;
    }
    *pid = tid;
    *started = child;
    return 0;
}

int shunter_child_start_error(const shunter_child *child)
{
    return __atomic_load_n(&child->start_error, __ATOMIC_ACQUIRE);
}

void shunter_child_release(shunter_child *child) { free(child); }

#endif
