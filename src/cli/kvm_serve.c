/*
 * Serving gdb for `ukvm run --gdb` and `ukvm replay --gdb`: listen, tell the
 * user how to connect, serve clients, and turn the way a session ended into
 * ukvm's exit status.
 */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include "cli/gdb_extension.h"
#include "rsp/gdb_server.h"
#include "cli/kvm_serve.h"
#include "monitor/signals.h"

/* After a detach from a live run: let the guest finish on its own. */
static int run_detached(struct kvm_target *kt)
{
    kvm_target_clear_all(kt);
    struct ukvm_stop stop;
    for (;;) {
        kvm_target_continue(kt, &stop);
        if (stop.reason == UKVM_STOP_EXITED)
            return stop.exit_status;
        if (stop.reason == UKVM_STOP_FAULT || stop.reason == UKVM_STOP_REPLAY_END)
            return kt->m->exit_status;
        if (stop.reason == UKVM_STOP_INTERRUPT && ukvm_stop_requested())
            return 128 + 2;
    }
}

int kvm_target_serve(struct kvm_target *kt, struct ukvm_target *served, const struct config *cfg,
        bool replay)
{
    char err[256];
    int lfd = cfg->gdb_listen_fd_given ? cfg->gdb_listen_fd
        : gdb_listen(cfg->gdb_addr, cfg->gdb_port, err, sizeof(err));
    if (lfd < 0) {
        ukvm_err("gdb: %s", err);
        return UKVM_EXIT_MONITOR_ERROR;
    }
    if (!cfg->gdb_listen_fd_given) { /* `ukvm debug` starts gdb itself */
        const char *ext = gdb_extension_path();
        fprintf(stderr, "ukvm: waiting for gdb on %s:%d; connect with: gdb%s%s%s -ex 'target remote %s:%d'\n",
                cfg->gdb_addr, gdb_listen_port(lfd), ext ? " -ex 'source " : "", ext ? ext : "",
                ext ? "'" : "", cfg->gdb_addr, gdb_listen_port(lfd));
    }
    if (cfg->gdb_ready_fd > 0) { /* `ukvm debug` may start gdb now */
        ssize_t w;
        do
            w = write(cfg->gdb_ready_fd, "r", 1);
        while (w < 0 && errno == EINTR);
        close(cfg->gdb_ready_fd);
    }
    int status = UKVM_EXIT_MONITOR_ERROR;
    for (;;) {
        enum gdb_end why = gdb_serve(lfd, served, NULL);
        switch (why) {
        case GDB_END_EXITED:
            status = kt->dead_stop.reason == UKVM_STOP_EXITED ? kt->dead_stop.exit_status
                : kt->m->exit_status;
            goto out;
        case GDB_END_KILLED:
            ukvm_err("guest killed from gdb");
            status = UKVM_EXIT_MONITOR_ERROR;
            goto out;
        case GDB_END_DETACHED:
        case GDB_END_DISCONNECTED:
            if (replay && cfg->gdb_once) {
                fprintf(stderr, "ukvm: gdb %s; ending the replay\n", gdb_end_name(why));
                status = 0;
                goto out;
            }
            if (replay) {
                fprintf(stderr, "ukvm: gdb %s; waiting for the next client (Ctrl-C "
                        "ends the replay)\n", gdb_end_name(why));
                continue;
            }
            if (why == GDB_END_DISCONNECTED) {
                ukvm_err("gdb disconnected: ending the guest");
                status = UKVM_EXIT_MONITOR_ERROR;
                goto out;
            }
            status = run_detached(kt);
            goto out;
        default:
            ukvm_err("gdb server failed");
            status = UKVM_EXIT_MONITOR_ERROR;
            goto out;
        }
    }
out:
    close(lfd);
    return status;
}
