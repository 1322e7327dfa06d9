// Exit notification for local jobs: a pidfd per child, all in one epoll set (see
// ChildExitWatcher.swift).

#define _GNU_SOURCE
#include "shunter_spawn.h"

#include <errno.h>

#if defined(__linux__)
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <unistd.h>

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
