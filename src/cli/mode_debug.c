/*
 * `ukvm debug TRACE [GDB-ARGS...]`: one command from a trace to a gdb prompt.
 * The listening socket is made here first (127.0.0.1, --port or a free
 * port), so gdb can connect as soon as it starts; a child serves the replay
 * on it (the same code as `ukvm replay --gdb`), and gdb runs connected to it
 * in extended mode, so that `run` starts the replay over (also once the
 * guest has exited), with ukvm's extension loaded and the kernel's symbols
 * from a local copy (kernel_file.h). gdb starts once the replay is ready to
 * serve (after a --goto): a replay that fails before then ends `ukvm debug`
 * with its own message and status, not with gdb timing out on a dead
 * connection. When gdb exits, the replay is ended and gdb's status is ukvm's.
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

#include "cli/gdb_extension.h"
#include "cli/kernel_file.h"
#include "rsp/gdb_server.h"
#include "cli/modes.h"

/* gdb's argument list: ours first (so that the user's -x scripts run once
 * connected), then the user's. The kernel is loaded before gdb reads its
 * arguments (-iex): a program among them replaces it. With confirm off,
 * `run` does not ask whether to start over (nor does a program given). */
static char **gdb_argv(const struct config *cfg, int port, const char *ext,
        const char *kernel)
{
    static char source[4200], file[PATH_MAX + 8], target[64];
    char **argv = calloc((size_t)cfg->debugger_argc + 16, sizeof(*argv));
    if (!argv)
        return NULL;
    int n = 0;
    argv[n++] = (char *)cfg->debugger;
    argv[n++] = "-q";
    argv[n++] = "-iex";
    argv[n++] = "set confirm off";
    if (kernel) {
        snprintf(file, sizeof(file), "file %s", kernel);
        argv[n++] = "-iex";
        argv[n++] = file;
    }
    if (ext) {
        snprintf(source, sizeof(source), "source %s", ext);
        argv[n++] = "-ex";
        argv[n++] = source;
    }
    snprintf(target, sizeof(target), "target extended-remote 127.0.0.1:%d", port);
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

/* The kernel of the trace for gdb; NULL (after a note) when it cannot be
 * written: gdb then reads it from the replay. */
static const char *local_kernel(struct kernel_file *kf, const struct ukvm_trace_header *h)
{
    char err[PATH_MAX + 128];
    if (kernel_file_write(kf, h->kernel, h->kernel_len, err, sizeof(err)) == 0)
        return kf->path;
    fprintf(stderr, "ukvm: note: %s; gdb reads the kernel from the replay instead (and "
            "says it has disappeared at each run)\n", err);
    return NULL;
}

static int debug_session(struct config *cfg, struct kernel_file *kf)
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
    const char *kernel = local_kernel(kf, ukvm_trace_reader_header(r));
    ukvm_trace_reader_close(r);
    int lfd = gdb_listen("127.0.0.1", cfg->gdb_port, err, sizeof(err));
    if (lfd < 0) {
        ukvm_err("gdb: %s", err);
        return UKVM_EXIT_MONITOR_ERROR;
    }
    int port = gdb_listen_port(lfd);
    const char *ext = gdb_extension_path();
    if (!ext)
        fprintf(stderr, "ukvm: note: the gdb extension (tools/gdb/ukvm.py) was not found; "
                "ukvm-last, ukvm-when and ukvm-goto are missing\n");
    char **argv = gdb_argv(cfg, port, ext, kernel);
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

int mode_debug(struct config *cfg)
{
    struct kernel_file kf = { .dir = "" };
    int status = debug_session(cfg, &kf);
    kernel_file_remove(&kf);
    return status;
}
