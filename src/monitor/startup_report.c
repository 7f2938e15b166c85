/*
 * UKVM_REPORT_STARTUP: start-up split into phases. The marks are always
 * taken (a vDSO clock read each, about 15 per run); only the printing
 * depends on the variable.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

#include "monitor/monitor.h"
#include "monitor/startup_report.h"

static const char *const phase_names[STARTUP_N_PHASES] = {
    [STARTUP_CLI] = "cli",
    [STARTUP_READ_KERNEL] = "read_kernel",
    [STARTUP_ELF_PARSE] = "elf_parse",
    [STARTUP_DEVICES] = "devices",
    [STARTUP_KVM_OPEN] = "kvm_open",
    [STARTUP_MEMORY] = "memory",
    [STARTUP_VCPU_CREATE] = "vcpu_create",
    [STARTUP_CPUID_MSR] = "cpuid_msr",
    [STARTUP_ELF_LOAD] = "elf_load",
    [STARTUP_SCAN_PATCH] = "scan_patch",
    [STARTUP_BOOT_INFO] = "boot_info",
    [STARTUP_VCPU_STATE] = "vcpu_state",
    [STARTUP_TRACE_HEADER] = "trace_header",
    [STARTUP_OTHER] = "other",
};

const char *startup_phase_name(enum startup_phase p)
{
    return (unsigned)p < STARTUP_N_PHASES ? phase_names[p] : NULL;
}

void startup_times_mark(struct startup_times *t, enum startup_phase p, uint64_t now)
{
    uint64_t from = t->last > t->start ? t->last : t->start;
    if (now < from)
        now = from; /* a clock that went back charges nothing */
    if ((unsigned)p < STARTUP_N_PHASES)
        t->ns[p] += now - from;
    t->last = now;
}

uint64_t startup_times_sum(const struct startup_times *t)
{
    uint64_t s = 0;
    for (int p = 0; p < STARTUP_N_PHASES; p++)
        s += t->ns[p];
    return s;
}

size_t startup_times_format(const struct startup_times *t, uint64_t cpu_user,
        uint64_t cpu_sys, uint64_t cpu_before_main, char *buf, size_t len)
{
    size_t at = 0;
#define PUT(...) do { \
        int n_ = snprintf(at < len ? buf + at : NULL, at < len ? len - at : 0, __VA_ARGS__); \
        if (n_ > 0) \
            at += (size_t)n_; \
    } while (0)
    for (int p = 0; p < STARTUP_N_PHASES; p++)
        PUT("ukvm: startup phase %s %llu ns\n", phase_names[p], (unsigned long long)t->ns[p]);
    PUT("ukvm: startup cpu %llu ns (user %llu sys %llu, before main %llu)\n",
            (unsigned long long)(cpu_user + cpu_sys), (unsigned long long)cpu_user,
            (unsigned long long)cpu_sys, (unsigned long long)cpu_before_main);
    PUT("ukvm: startup %llu ns to the first guest instruction\n",
            (unsigned long long)startup_times_sum(t));
#undef PUT
    return at;
}

/* ---- the process's report ---- */

static struct startup_times times;
static uint64_t cpu_at_main;
static uint64_t first_run_start;
bool startup_first_run_pending;

static void cpu_ns(uint64_t *user, uint64_t *sys)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) < 0) {
        *user = *sys = 0;
        return;
    }
    *user = (uint64_t)ru.ru_utime.tv_sec * 1000000000ULL + (uint64_t)ru.ru_utime.tv_usec * 1000;
    *sys = (uint64_t)ru.ru_stime.tv_sec * 1000000000ULL + (uint64_t)ru.ru_stime.tv_usec * 1000;
}

void startup_begin(void)
{
    ukvm_start_ns = ukvm_now_ns();
    times.start = times.last = ukvm_start_ns;
    /* What exec and the dynamic linker cost before main: the only view of
     * it from inside the process. Read only when it will be printed. */
    if (getenv("UKVM_REPORT_STARTUP")) {
        uint64_t u, s;
        cpu_ns(&u, &s);
        cpu_at_main = u + s;
    }
}

void startup_mark(enum startup_phase p)
{
    startup_times_mark(&times, p, ukvm_now_ns());
}

void startup_report(void)
{
    startup_mark(STARTUP_OTHER);
    if (!getenv("UKVM_REPORT_STARTUP"))
        return;
    uint64_t u, s;
    cpu_ns(&u, &s);
    char buf[2048];
    size_t n = startup_times_format(&times, u, s, cpu_at_main, buf, sizeof(buf));
    fwrite(buf, 1, n < sizeof(buf) ? n : sizeof(buf) - 1, stderr);
    startup_first_run_pending = true;
    first_run_start = ukvm_now_ns();
}

void startup_first_run_done(void)
{
    uint64_t end = ukvm_now_ns();
    startup_first_run_pending = false;
    uint64_t u, s;
    cpu_ns(&u, &s);
    fprintf(stderr, "ukvm: startup first_kvm_run %llu ns (to the first exit: KVM's lazy set-up "
            "and the guest's first instructions); cpu %llu ns by then\n",
            (unsigned long long)(end - first_run_start), (unsigned long long)(u + s));
}
