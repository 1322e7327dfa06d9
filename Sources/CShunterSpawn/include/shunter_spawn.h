#ifndef SHUNTER_SPAWN_H
#define SHUNTER_SPAWN_H

#include <sys/types.h>

/// Starts `path` (an absolute or work-directory-relative path, never looked up in PATH) as the
/// leader of a new session, with standard input from /dev/null, standard output and error on
/// `stdout_fd`/`stderr_fd`, working directory `directory`, every signal at its default
/// disposition and none blocked, and no other descriptor of this process open.
///
/// posix_spawn rather than fork+exec: glibc starts the child with CLONE_VM|CLONE_VFORK, so the
/// broker's page tables are neither copied nor write-protected (a fork makes every page the
/// broker writes next fault once), and exec failures come back as the return value.
///
/// Returns 0 and sets `*pid`, or an errno value.
int shunter_spawn_session(
    pid_t *pid, const char *path, char *const argv[], char *const envp[],
    const char *directory, int stdout_fd, int stderr_fd);

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

#endif
