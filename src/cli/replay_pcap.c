/* `ukvm replay --pcap` (see replay_pcap.h). */
#include "cli/replay_pcap.h"

#include <inttypes.h>
#include <stdio.h>

#include "record/net_pcap.h"
#include "record/replayer.h"

static struct {
    struct net_pcap *p;
    const char *path;
    bool failed;                /* a write failed; its line is printed */
} cap;

/* Every event the replay serves: for net_read the frame the trace gave
 * the guest, for net_write the one the guest made again. */
static int on_event(void *ctx, uint64_t number, const struct ukvm_io *io)
{
    (void)ctx;
    size_t len = io->ev.kind == UKVM_EV_NET_READ ? io->ev.a[3] : io->buf_len;
    char err[400];
    if (net_pcap_event(cap.p, number, &io->ev, io->buf, len, err, sizeof(err)) < 0) {
        ukvm_err("replay --pcap: %s", err);
        cap.failed = true;
        return -1;
    }
    return 0;
}

int replay_pcap_start(const struct config *cfg, const struct ukvm_trace_header *h,
        struct ukvm_event_source *src)
{
    char err[400];
    cap.path = cfg->pcap_path;
    cap.p = net_pcap_create(cfg->pcap_path, cfg->force, "--force", h, NULL, "ukvm replay --pcap",
            err, sizeof(err));
    if (!cap.p) {
        ukvm_err("replay --pcap: %s", err);
        return -1;
    }
    replayer_on_event(src, on_event, NULL);
    return 0;
}

int replay_pcap_finish(int status)
{
    struct net_pcap_counts n;
    net_pcap_counts(cap.p, &n);
    char err[400];
    if (net_pcap_close(cap.p, err, sizeof(err)) < 0) {
        if (!cap.failed)
            ukvm_err("replay --pcap: %s", err);
        return UKVM_EXIT_MONITOR_ERROR;
    }
    if (cap.failed)
        return UKVM_EXIT_MONITOR_ERROR;
    fprintf(stderr, "ukvm: replay: %s: %" PRIu64 " frame%s read, %" PRIu64 " written\n",
            cap.path, n.read, n.read == 1 ? "" : "s", n.written);
    return status;
}
