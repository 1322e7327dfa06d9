// What the broker process does to itself for its jobs' sake: no descriptor reaches a crash
// reporter it starts, and no job of the same user reads its memory or environment.

#define _GNU_SOURCE
#include "shunter_spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#if defined(__linux__)
#include <sys/prctl.h>
#include <sys/syscall.h>
#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#endif

int shunter_cloexec_all(void)
{
#if defined(__linux__)
    if (syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) == 0) return 0;
    if (errno != ENOSYS && errno != EINVAL) return -1;
#endif
    struct rlimit limit;
    long last = getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < 65536
        ? (long)limit.rlim_cur : 65536;
    for (long fd = 3; fd < last; fd++) {
        int flags = fcntl((int)fd, F_GETFD);
        if (flags >= 0 && !(flags & FD_CLOEXEC)) fcntl((int)fd, F_SETFD, flags | FD_CLOEXEC);
    }
    return 0;
}

static const int crash_signals[] = {SIGSEGV, SIGBUS, SIGILL, SIGTRAP, SIGABRT, SIGFPE};
#define CRASH_SIGNAL_COUNT (sizeof(crash_signals) / sizeof(crash_signals[0]))
static struct sigaction previous_actions[CRASH_SIGNAL_COUNT];

static void crash_guard(int signal, siginfo_t *info, void *context)
{
    int saved = errno;
    shunter_cloexec_all();
    errno = saved;
    for (unsigned i = 0; i < CRASH_SIGNAL_COUNT; i++) {
        if (crash_signals[i] != signal) continue;
        struct sigaction *previous = &previous_actions[i];
        if (previous->sa_flags & SA_SIGINFO) {
            previous->sa_sigaction(signal, info, context);
            return;
        }
        if (previous->sa_handler == SIG_IGN) return;
        if (previous->sa_handler != SIG_DFL) {
            previous->sa_handler(signal);
            return;
        }
        // The default action: restored, and the signal raised again as it came.
        sigaction(signal, previous, NULL);
        raise(signal);
        return;
    }
}

int shunter_install_crash_descriptor_guard(void)
{
    for (unsigned i = 0; i < CRASH_SIGNAL_COUNT; i++) {
        struct sigaction action;
        memset(&action, 0, sizeof(action));
        action.sa_sigaction = crash_guard;
        // The runtime's handler runs on the alternate stack it set up, with the flags it chose;
        // this one asks for the same, so handing over changes nothing for it.
        if (sigaction(crash_signals[i], NULL, &previous_actions[i]) != 0) return -1;
        action.sa_flags = SA_SIGINFO | (previous_actions[i].sa_flags & (SA_ONSTACK | SA_NODEFER | SA_RESTART));
        action.sa_mask = previous_actions[i].sa_mask;
        if (sigaction(crash_signals[i], &action, NULL) != 0) return -1;
    }
    return 0;
}

int shunter_make_undumpable(void)
{
#if defined(__linux__)
    return prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
#else
    errno = ENOSYS;
    return -1;
#endif
}

int shunter_is_dumpable(void)
{
#if defined(__linux__)
    return prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
#else
    return -1;
#endif
}
