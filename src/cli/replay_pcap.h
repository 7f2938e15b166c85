/* `ukvm replay --pcap=FILE`: the replay's network frames, both ways, as
 * pcapng (record/net_pcap.h), fed by the replayer as it serves events. */
#ifndef UKVM_REPLAY_PCAP_H
#define UKVM_REPLAY_PCAP_H

#include "monitor/monitor.h"
#include "ukvm/trace.h"

/* Creates cfg->pcap_path for the devices of h and has the replayer src
 * feed it. -1 when the file cannot be made (one line printed). */
int replay_pcap_start(const struct config *cfg, const struct ukvm_trace_header *h,
        struct ukvm_event_source *src);

/* After the replay: closes the file and says what it holds. Returns
 * `status`, or 1 when writing the file failed (one line printed). */
int replay_pcap_finish(int status);

#endif
