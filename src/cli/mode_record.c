/* `ukvm record`: run against the real world and write every event to a trace. */
#include <stdlib.h>

#include "monitor/boot.h"
#include "cli/modes.h"
#include "monitor/signals.h"
#include "monitor/startup_report.h"
#include "record/recorder.h"

int mode_record(struct config *cfg)
{
    static struct monitor m;
    m.cfg = cfg;
    size_t len;
    uint8_t *kernel = monitor_boot_file(&m, &len);
    if (!kernel)
        return UKVM_EXIT_MONITOR_ERROR;
    char err[1024];
    struct ukvm_trace_header h;
    if (recorder_header(&m, &h, err, sizeof(err)) < 0) {
        ukvm_err("%s", err);
        return UKVM_EXIT_MONITOR_ERROR;
    }
    struct ukvm_trace_writer *w = ukvm_trace_writer_open(cfg->trace_path, cfg->force, &h,
            err, sizeof(err));
    recorder_header_free(&h);
    startup_mark(STARTUP_TRACE_HEADER);
    if (!w) {
        ukvm_err("%s", err);
        return UKVM_EXIT_MONITOR_ERROR;
    }
    m.src = recorder_create(world_source_create(&m), w);
    signals_install(&m.vm);
    int status = monitor_run_to_end(&m);
    if (ukvm_trace_writer_close(w, status, err, sizeof(err)) < 0) {
        if (!recorder_failed(m.src))
            ukvm_err("%s", err);
        status = UKVM_EXIT_MONITOR_ERROR;
    }
    vm_destroy(&m.vm);
    free(kernel);
    return status;
}
