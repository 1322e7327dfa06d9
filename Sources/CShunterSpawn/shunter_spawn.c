#define _GNU_SOURCE
#include "shunter_spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <unistd.h>

#if defined(__linux__)
#include <sys/epoll.h>
#include <sys/syscall.h>
#endif

int shunter_spawn_session(
    pid_t *pid, const char *path, char *const argv[], char *const envp[],
    const char *directory, int stdout_fd, int stderr_fd)
{
    posix_spawnattr_t attributes;
    posix_spawn_file_actions_t actions;
    int rc = posix_spawnattr_init(&attributes);
    if (rc != 0) return rc;
    rc = posix_spawn_file_actions_init(&actions);
    if (rc != 0) {
        posix_spawnattr_destroy(&attributes);
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
    return rc;
}

#if defined(__linux__)

int shunter_pidfd_open(pid_t pid)
{
#ifdef SYS_pidfd_open
    return (int)syscall(SYS_pidfd_open, pid, 0);
#else
    errno = ENOSYS;
    return -1;
#endif
}

int shunter_exit_watch_create(void)
{
    return epoll_create1(EPOLL_CLOEXEC);
}

int shunter_exit_watch_add(int watch_fd, int pidfd)
{
    struct epoll_event event = { .events = EPOLLIN | EPOLLONESHOT, .data = { .fd = pidfd } };
    return epoll_ctl(watch_fd, EPOLL_CTL_ADD, pidfd, &event);
}

int shunter_exit_watch_wait(int watch_fd, int *ready, int capacity)
{
    struct epoll_event events[64];
    if (capacity > 64) capacity = 64;
    int count;
    do {
        count = epoll_wait(watch_fd, events, capacity, -1);
    } while (count < 0 && errno == EINTR);
    for (int i = 0; i < count; i++) ready[i] = events[i].data.fd;
    return count;
}

#else

int shunter_pidfd_open(pid_t pid) { (void)pid; errno = ENOSYS; return -1; }
int shunter_exit_watch_create(void) { errno = ENOSYS; return -1; }
int shunter_exit_watch_add(int watch_fd, int pidfd) { (void)watch_fd; (void)pidfd; errno = ENOSYS; return -1; }
int shunter_exit_watch_wait(int watch_fd, int *ready, int capacity) { (void)watch_fd; (void)ready; (void)capacity; errno = ENOSYS; return -1; }

#endif
