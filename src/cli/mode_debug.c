/*
 * `ukvm debug TRACE [GDB-ARGS...]`: one command from a trace to a gdb prompt.
 * The listening socket is made here first (127.0.0.1, a free port), so gdb
 * can connect as soon as it starts; a child serves the replay on it (the
 * same code as `ukvm replay --gdb`), and gdb runs connected to it with ukvm's
 * extension loaded. gdb starts once the replay is ready to serve (after a
 * --goto): a replay that fails before then ends `ukvm debug` with its own
 * message and status, not with gdb timing out on a dead connection. When
 * gdb exits, the replay is ended and gdb's status is ukvm's.
 *
 * Ctrl-C at the terminal goes to gdb (which interrupts the guest through the
 * protocol): the replay runs in a process group of its own, and this process
 * ignores SIGINT while gdb runs.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "gdb/gdb_extension.h"
#include "gdb/gdb_server.h"
#include "cli/modes.h"

/* gdb's argument list: ours first (so that the user's -x scripts run once
 * connected), then the user's. */
static char **gdb_argv(const struct config *cfg, int port, const char *ext)
{
    static char source[4200], target[64];
    char **argv = calloc((size_t)cfg->debugger_argc + 16, sizeof(*argv));
    if (!argv)
        return NULL;
    int n = 0;
    argv[n++] = (char *)cfg->debugger;
    argv[n++] = "-q";
    argv[n++] = "-ex";
    argv[n++] = "set confirm off";
    if (ext) {
        snprintf(source, sizeof(source), "source %s", ext);
        argv[n++] = "-ex";
        argv[n++] = source;
    }
    snprintf(target, sizeof(target), "target remote 127.0.0.1:%d", port);
    argv[n++] = "-ex";
    argv[n++] = target;
    for (int i = 0; i < cfg->debugger_argc; i++)
        argv[n++] = cfg->debugger_argv[i];
    argv[n] = NULL;
    return argv;
}

/* Ends the replay child: SIGTERM, then SIGKILL after two seconds. */
static void end_child(pid_t pid)
{
    kill(pid, SIGTERM);
    for (int i = 0; i < 200; i++) {
        if (waitpid(pid, NULL, WNOHANG) == pid)
            return;
        struct timespec ts = { 0, 10 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

int mode_debug(struct config *cfg)
{
    char err[256];
    if (!cfg->debugger)
        cfg->debugger = "gdb";
    /* refuse a bad trace with its own one line before starting anything */
    struct ukvm_trace_reader *r = ukvm_trace_reader_open(cfg->trace_path, err, sizeof(err));
    if (!r) {
        ukvm_err("%s", err);
        return UKVM_EXIT_MONITOR_ERROR;
    }
    ukvm_trace_reader_close(r);
    int lfd = gdb_listen("127.0.0.1", 0, err, sizeof(err));
    if (lfd < 0) {
        ukvm_err("gdb: %s", err);
        return UKVM_EXIT_MONITOR_ERROR;
    }
    int port = gdb_listen_port(lfd);
    const char *ext = gdb_extension_path();
    if (!ext)
        fprintf(stderr, "ukvm: note: the gdb extension (tools/gdb/ukvm.py) was not found; "
                "ukvm-last, ukvm-when and ukvm-goto are missing\n");
    char **argv = gdb_argv(cfg, port, ext);
    if (!argv) {
        ukvm_err("out of memory");
        return UKVM_EXIT_MONITOR_ERROR;
    }
    fflush(NULL);
    int ready[2];
    if (pipe2(ready, O_CLOEXEC) < 0) {
        ukvm_err("pipe: %s", strerror(errno));
        return UKVM_EXIT_MONITOR_ERROR;
    }

    pid_t replay = fork();
    if (replay < 0) {
        ukvm_err("fork: %s", strerror(errno));
        return UKVM_EXIT_MONITOR_ERROR;
    }
    if (replay == 0) {
        setpgid(0, 0);
        close(ready[0]);
        cfg->gdb_ready_fd = ready[1];
        cfg->mode = MODE_REPLAY;
        cfg->gdb = true;
        cfg->gdb_once = true;
        cfg->gdb_listen_fd = lfd;
        cfg->gdb_listen_fd_given = true;
        _exit(mode_replay(cfg));
    }
    setpgid(replay, replay);
    close(lfd);
    close(ready[1]);
    /* the replay says when it serves; end of file: it ended before that */
    char byte;
    ssize_t got;
    do
        got = read(ready[0], &byte, 1);
    while (got < 0 && errno == EINTR);
    close(ready[0]);
    if (got != 1) {
        int rst = 0;
        while (waitpid(replay, &rst, 0) < 0 && errno == EINTR)
            ;
        free(argv);
        return WIFEXITED(rst) && WEXITSTATUS(rst) ? WEXITSTATUS(rst) : UKVM_EXIT_MONITOR_ERROR;
    }

    pid_t gdb = fork();
    if (gdb < 0) {
        ukvm_err("fork: %s", strerror(errno));
        end_child(replay);
        return UKVM_EXIT_MONITOR_ERROR;
    }
    if (gdb == 0) {
        execvp(argv[0], argv);
        ukvm_err("cannot start %s: %s", argv[0], strerror(errno));
        _exit(127);
    }
    signal(SIGINT, SIG_IGN);
    signal(SIGQUIT, SIG_IGN);
    int st = 0;
    while (waitpid(gdb, &st, 0) < 0 && errno == EINTR)
        ;
    end_child(replay);
    free(argv);
    if (WIFEXITED(st))
        return WEXITSTATUS(st);
    return 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}
