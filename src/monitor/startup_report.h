/*
 * Where start-up time goes (UKVM_REPORT_STARTUP=1): the time from the start
 * of main to the first KVM_RUN, charged to one phase per step, plus the
 * process's CPU time and the first KVM_RUN itself.
 */
#ifndef UKVM_STARTUP_REPORT_H
#define UKVM_STARTUP_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum startup_phase {
    STARTUP_CLI,            /* main to the boot: parsing the arguments */
    STARTUP_READ_KERNEL,    /* reading the kernel file */
    STARTUP_ELF_PARSE,      /* parsing and validating the ELF and its notes */
    STARTUP_DEVICES,        /* matching and opening devices */
    STARTUP_KVM_OPEN,       /* /dev/kvm, KVM_CREATE_VM, PMU off */
    STARTUP_MEMORY,         /* guest memory: memfd, mappings, the memslot */
    STARTUP_VCPU_CREATE,    /* KVM_CREATE_VCPU, kvm_run, TSC frequency */
    STARTUP_CPUID_MSR,      /* CPUID table, MSR filter */
    STARTUP_ELF_LOAD,       /* segments copied, bss, text write-protected */
    STARTUP_SCAN_PATCH,     /* rdtsc & co found and patched */
    STARTUP_BOOT_INFO,      /* boot information, manifest, command line */
    STARTUP_VCPU_STATE,     /* page tables, GDT, registers, FPU */
    STARTUP_TRACE_HEADER,   /* record: the header with the compressed kernel */
    STARTUP_OTHER,          /* the rest: event source, signal handlers */
    STARTUP_N_PHASES
};

/* A clock split into phases; all times in ns. Pure data, for tests. */
struct startup_times {
    uint64_t start;         /* the clock at the start of main */
    uint64_t last;          /* the clock at the last mark */
    uint64_t ns[STARTUP_N_PHASES];
};

/* Charge the time since the last mark (or the start) to phase p. */
void startup_times_mark(struct startup_times *t, enum startup_phase p, uint64_t now);
/* Sum of the phases: equal to last - start. */
uint64_t startup_times_sum(const struct startup_times *t);
/* The phase's name as printed ("kvm_open"), NULL when out of range. */
const char *startup_phase_name(enum startup_phase p);

/* The report, one line each: a line per phase, the process's CPU time,
 * then the total as `make bench` has always read it. Returns the length
 * written (snprintf rules). cpu_* are in ns. */
size_t startup_times_format(const struct startup_times *t, uint64_t cpu_user,
        uint64_t cpu_sys, uint64_t cpu_before_main, char *buf, size_t len);

/* ---- the process's one report ---- */

/* First thing in main: start the clock. */
void startup_begin(void);
/* Charge the time since the last mark to phase p. */
void startup_mark(enum startup_phase p);
/* Just before the first KVM_RUN (run, record): charge the rest to
 * STARTUP_OTHER and, when UKVM_REPORT_STARTUP is set, print the report on
 * stderr and time the first KVM_RUN (startup_after_run). */
void startup_report(void);

extern bool startup_first_run_pending;
void startup_first_run_done(void);
/* After each KVM_RUN: one test of a flag, except after the first. */
static inline void startup_after_run(void)
{
    if (__builtin_expect(startup_first_run_pending, 0))
        startup_first_run_done();
}

#endif
