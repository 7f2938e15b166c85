/*
 * What each event kind takes from the guest (inputs, checked on replay) and
 * what it gives back (outputs, fed from the trace on replay). The argument
 * meanings are listed in include/ukvm/trace.h.
 */
#include "ukvm/event_source.h"

unsigned ukvm_event_input_mask(uint32_t kind)
{
    switch (kind) {
    case UKVM_EV_WALLTIME:    return 0;
    case UKVM_EV_PUTS:        return 0x3;   /* len, digest */
    case UKVM_EV_POLL:        return 0x1;   /* timeout */
    case UKVM_EV_BLOCK_WRITE: return 0xf;   /* handle, offset, len, digest */
    case UKVM_EV_BLOCK_READ:  return 0x7;   /* handle, offset, len */
    case UKVM_EV_NET_WRITE:   return 0x7;   /* handle, len, digest */
    case UKVM_EV_NET_READ:    return 0x3;   /* handle, buffer size */
    case UKVM_EV_HALT:        return 0x3;   /* status, cookie */
    case UKVM_EV_RDTSC:       return 0;
    case UKVM_EV_RDTSCP:      return 0;
    case UKVM_EV_RDRAND:
    case UKVM_EV_RDSEED:      return 0x2;   /* operand size */
    case UKVM_EV_RDMSR_TSC:   return 0;
    default:                  return 0x3f;
    }
}

bool ukvm_event_has_output_data(uint32_t kind)
{
    return kind == UKVM_EV_BLOCK_READ || kind == UKVM_EV_NET_READ;
}
