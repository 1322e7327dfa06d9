// The spawn of a local job where spawn_linux.c does not apply (other systems, other Linux
// architectures): posix_spawn, which reports a failed exec at once.

#define _GNU_SOURCE
#include "shunter_spawn.h"

#if !(defined(__linux__) && (defined(__x86_64__) || defined(__aarch64__)))

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <unistd.h>

/// Nothing for the child to read afterwards: posix_spawn returns once it has exec'd.
struct shunter_child {
    int start_error;
};

int shunter_spawn_session_as(
    pid_t *pid, shunter_child **started, const char *path, char *const argv[], char *const envp[],
    const char *directory, int stdout_fd, int stderr_fd, shunter_spawn_identity identity)
{
    // posix_spawn cannot change the child's user here: refused rather than ignored. The umask
    // cannot be set either; the child keeps the broker's (owner-only), which only makes the
    // files a job writes stricter.
    if (identity.uid >= 0 || identity.gid >= 0) return ENOTSUP;
    return shunter_spawn_session(pid, started, path, argv, envp, directory, stdout_fd, stderr_fd);
}

int shunter_spawn_session(
    pid_t *pid, shunter_child **started, const char *path, char *const argv[], char *const envp[],
    const char *directory, int stdout_fd, int stderr_fd)
{
    shunter_child *child = calloc(1, sizeof(shunter_child));
    if (child == NULL) return ENOMEM;

    posix_spawnattr_t attributes;
    posix_spawn_file_actions_t actions;
    int rc = posix_spawnattr_init(&attributes);
    if (rc != 0) {
        free(child);
        return rc;
    }
    rc = posix_spawn_file_actions_init(&actions);
    if (rc != 0) {
        posix_spawnattr_destroy(&attributes);
        free(child);
        return rc;
    }

    sigset_t none, every;
    sigemptyset(&none);
    // Signals the broker ignores (SIGPIPE) must not stay ignored in jobs: `yes | head` relies
    // on SIGPIPE's default action.
    sigfillset(&every);
    sigdelset(&every, SIGKILL);
    sigdelset(&every, SIGSTOP);
#if defined(__GLIBC__)
    // glibc's sigfillset leaves out the signals it reserves for itself (32 and 33), and its
    // posix_spawn then sets those to SIG_IGN in the child, which exec keeps. Their bits are set
    // directly, so that jobs get them at their default, as after fork and exec.
    const int bits = 8 * sizeof(every.__val[0]);
    for (int sig = 32; sig < SIGRTMIN; sig++) every.__val[(sig - 1) / bits] |= 1UL << ((sig - 1) % bits);
#endif
    short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSID;
#if defined(__APPLE__)
    flags |= POSIX_SPAWN_CLOEXEC_DEFAULT;
#endif
    rc = posix_spawnattr_setflags(&attributes, flags);
    if (rc == 0) rc = posix_spawnattr_setsigmask(&attributes, &none);
    if (rc == 0) rc = posix_spawnattr_setsigdefault(&attributes, &every);

    if (rc == 0) rc = posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    if (rc == 0) rc = posix_spawn_file_actions_adddup2(&actions, stdout_fd, STDOUT_FILENO);
    if (rc == 0) rc = posix_spawn_file_actions_adddup2(&actions, stderr_fd, STDERR_FILENO);
    if (rc == 0 && directory != NULL) rc = posix_spawn_file_actions_addchdir_np(&actions, directory);
#if defined(__linux__)
    // Descriptors a library opened without O_CLOEXEC must not leak into jobs.
    if (rc == 0) rc = posix_spawn_file_actions_addclosefrom_np(&actions, STDERR_FILENO + 1);
#endif
    if (rc == 0) rc = posix_spawn(pid, path, &actions, &attributes, argv, envp);

    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attributes);
    if (rc != 0) {
        free(child);
        return rc;
    }
    *started = child;
    return 0;
}

int shunter_child_start_error(const shunter_child *child) { return child->start_error; }

void shunter_child_release(shunter_child *child) { free(child); }

#endif

