#ifndef SHUNTER_SPAWN_H
#define SHUNTER_SPAWN_H

#include <sys/types.h>

/// A started child's spawn record: what the child reads until it has exec'd (or failed to),
/// and where it leaves the reason of a failed start. Owned by the caller, who releases it
/// only once the child has been reaped: until then the child may still be reading it.
typedef struct shunter_child shunter_child;

/// Starts `path` (an absolute or work-directory-relative path, never looked up in PATH) as the
/// leader of a new session, with standard input from /dev/null, standard output and error on
/// `stdout_fd`/`stderr_fd`, working directory `directory`, every signal at its default
/// disposition and none blocked, and no other descriptor of this process open.
///
/// Returns 0 and sets `*pid` and `*child`, or an errno value when no child could be created.
/// The caller may free `argv`, `envp` and close the descriptors as soon as this returns.
///
/// Whether the child then got as far as exec is known once it has been reaped:
/// `shunter_child_start_error`. On Linux (x86-64, AArch64) this returns as soon as the child
/// exists, before its exec (see spawn_linux.c for why); elsewhere it is posix_spawn, which
/// already reports a failed exec here, and `shunter_child_start_error` is always 0.
int shunter_spawn_session(
    pid_t *pid, shunter_child **child, const char *path, char *const argv[], char *const envp[],
    const char *directory, int stdout_fd, int stderr_fd);

/// Who a job runs as: `uid`/`gid` -1 keep the broker's (no change at all); otherwise the child
/// sets its supplementary groups to `gid` alone, then its real, effective and saved group and
/// user ids, after its chdir and before its exec (a failure is a start error, as for chdir).
/// `umask` -1 keeps the broker's; otherwise the child's file creation mask (Linux; elsewhere the
/// child keeps the broker's, and a user other than -1 fails with ENOTSUP).
typedef struct shunter_spawn_identity {
    long uid;
    long gid;
    long umask;
} shunter_spawn_identity;

/// `shunter_spawn_session` with the identity and file creation mask of the child.
int shunter_spawn_session_as(
    pid_t *pid, shunter_child **child, const char *path, char *const argv[], char *const envp[],
    const char *directory, int stdout_fd, int stderr_fd, shunter_spawn_identity identity);

/// After the child has been reaped: 0 if it reached exec, or the errno of the step that failed
/// (setsid, opening /dev/null, chdir, the exec itself...). Such a child exited with status 127.
int shunter_child_start_error(const shunter_child *child);

/// Frees the spawn record. Only after the child has been reaped.
void shunter_child_release(shunter_child *child);

/// A descriptor that becomes readable when process `pid` (a child of ours) exits; -1 and errno
/// when the kernel has no pidfd (Linux before 5.3, other systems).
int shunter_pidfd_open(pid_t pid);

/// An epoll set for exit descriptors; -1 and errno on failure or where epoll does not exist.
int shunter_exit_watch_create(void);

/// Adds a pidfd to the set, reported once (EPOLLONESHOT). Returns 0, or -1 and errno.
int shunter_exit_watch_add(int watch_fd, int pidfd);

/// Waits until at least one pidfd in the set is readable and writes up to `capacity` of them to
/// `ready`. Returns their count, or -1 and errno (EINTR is retried here).
int shunter_exit_watch_wait(int watch_fd, int *ready, int capacity);

/// Sets close-on-exec on every descriptor from 3 up (close_range's CLOSE_RANGE_CLOEXEC, or
/// one fcntl each where it is missing). Async-signal-safe. Returns 0, or -1 and errno.
int shunter_cloexec_all(void);

/// Installs handlers for the crash signals (SEGV, BUS, ILL, TRAP, ABRT, FPE) that mark every
/// descriptor close-on-exec and then hand the signal to the handler installed before
/// (the Swift runtime's, which may start a crash reporter as a child process): libraries that
/// open descriptors without O_CLOEXEC (the listening socket among them) must not pass them to
/// it. Call once, after the runtime has installed its own. Returns 0, or -1 and errno.
int shunter_install_crash_descriptor_guard(void);

/// prctl(PR_SET_DUMPABLE, 0): no process of the same user can read this one's memory,
/// environment (/proc/PID/environ) or descriptors, nor ptrace it. Returns 0, or -1 and errno
/// (and ENOSYS off Linux).
int shunter_make_undumpable(void);

/// prctl(PR_GET_DUMPABLE): 1 or 0, or -1 off Linux.
int shunter_is_dumpable(void);

#endif
