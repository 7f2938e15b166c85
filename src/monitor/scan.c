/*
 * Instruction scanner: finds rdtsc, rdtscp, rdrand and rdseed in guest code
 * with Zydis (64-bit mode), for patching into hlt traps at load time.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <Zydis/Zydis.h>

#include "ukvm/scan.h"

static int decoder_init(ZydisDecoder *dec)
{
    return ZYAN_SUCCESS(ZydisDecoderInit(dec, ZYDIS_MACHINE_MODE_LONG_64,
                ZYDIS_STACK_WIDTH_64)) ? 0 : -1;
}

/* Decodes one instruction; fills *site. Returns its length, 0 if it does not
 * decode. */
static size_t decode_one(const ZydisDecoder *dec, const uint8_t *code,
        size_t avail, uint64_t addr, struct ukvm_scan_site *site)
{
    ZydisDecoderContext ctx;
    ZydisDecodedInstruction insn;
    ZydisDecodedOperand op;

    memset(site, 0, sizeof *site);
    if (avail == 0 || !ZYAN_SUCCESS(ZydisDecoderDecodeInstruction(dec, &ctx,
                    code, avail, &insn)))
        return 0;

    site->addr = addr;
    site->len = insn.length;
    switch (insn.mnemonic) {
    case ZYDIS_MNEMONIC_RDTSC:
        site->kind = UKVM_PATCH_RDTSC;
        break;
    case ZYDIS_MNEMONIC_RDTSCP:
        site->kind = UKVM_PATCH_RDTSCP;
        break;
    case ZYDIS_MNEMONIC_RDRAND:
    case ZYDIS_MNEMONIC_RDSEED: {
        ZyanI8 id;

        /* Only the register form exists; check anyway rather than trust the
         * opcode table. */
        if (insn.raw.modrm.mod != 3 || insn.operand_count < 1)
            break;
        if (!ZYAN_SUCCESS(ZydisDecoderDecodeOperands(dec, &ctx, &insn, &op, 1)))
            break;
        if (op.type != ZYDIS_OPERAND_TYPE_REGISTER)
            break;
        id = ZydisRegisterGetId(op.reg.value);
        if (id < 0 || id > 15)
            break;
        if (insn.operand_width != 16 && insn.operand_width != 32 &&
                insn.operand_width != 64)
            break;
        site->kind = insn.mnemonic == ZYDIS_MNEMONIC_RDRAND ?
            UKVM_PATCH_RDRAND : UKVM_PATCH_RDSEED;
        site->operand_bits = insn.operand_width;
        site->reg = (uint8_t)id;
        break;
    }
    default:
        break;
    }
    return insn.length;
}

/* The mnemonics the scan patches. */
static bool wanted(ZydisMnemonic m)
{
    return m == ZYDIS_MNEMONIC_RDTSC || m == ZYDIS_MNEMONIC_RDTSCP ||
           m == ZYDIS_MNEMONIC_RDRAND || m == ZYDIS_MNEMONIC_RDSEED;
}

/*
 * One past the last offset where a wanted instruction could begin: every
 * encoding of rdtsc (0F 31), rdtscp (0F 01 F9), rdrand and rdseed (0F C7)
 * holds its two opcode bytes side by side, with only prefixes before them,
 * so no site starts after the last such pair. 0: there is none, and the
 * sweep (the costly part) has nothing to find.
 */
static size_t sweep_end(const uint8_t *code, size_t len)
{
    for (size_t i = len; i >= 2; i--) {
        const uint8_t *p = code + i - 2;
        if (p[0] == 0x0f && (p[1] == 0x31 || p[1] == 0xc7 ||
                    (p[1] == 0x01 && i < len && p[2] == 0xf9)))
            return i - 1;
    }
    return 0;
}

int ukvm_scan_code(const uint8_t *code, size_t len, uint64_t base,
        struct ukvm_scan_site **sites, size_t *n)
{
    ZydisDecoder dec, sweep;
    struct ukvm_scan_site *found = NULL, *grown;
    size_t nfound = 0, cap = 0, off = 0;

    /* The sweep only needs lengths and mnemonics: Zydis's minimal mode
     * skips the rest of the decoding (start-up time is proportional to the
     * text scanned); the few hits are decoded again in full. */
    if (decoder_init(&dec) < 0 || decoder_init(&sweep) < 0 ||
            !ZYAN_SUCCESS(ZydisDecoderEnableMode(&sweep, ZYDIS_DECODER_MODE_MINIMAL, ZYAN_TRUE)))
        return -1;

    /* Lengths still come from all the bytes (len - off): only where the
     * sweep stops changes. */
    size_t end = sweep_end(code, len);
    while (off < end) {
        struct ukvm_scan_site s;
        ZydisDecodedInstruction insn;
        size_t l;

        if (!ZYAN_SUCCESS(ZydisDecoderDecodeInstruction(&sweep, NULL, code + off,
                        len - off, &insn))) {
            off++;              /* undecodable: skip one byte */
            continue;
        }
        if (!wanted(insn.mnemonic)) {
            off += insn.length;
            continue;
        }
        l = decode_one(&dec, code + off, len - off, base + off, &s);
        if (l == 0) {           /* cannot happen: the same bytes decoded above */
            off++;
            continue;
        }
        if (s.kind != 0) {
            if (nfound == cap) {
                size_t ncap = cap ? cap * 2 : 16;

                grown = realloc(found, ncap * sizeof *found);
                if (!grown) {
                    free(found);
                    return -1;
                }
                found = grown;
                cap = ncap;
            }
            found[nfound++] = s;
        }
        off += l;
    }

    if (nfound) {
        if (*n > SIZE_MAX / sizeof **sites - nfound) {
            free(found);
            return -1;
        }
        grown = realloc(*sites, (*n + nfound) * sizeof **sites);
        if (!grown) {
            free(found);
            return -1;
        }
        memcpy(grown + *n, found, nfound * sizeof *found);
        *sites = grown;
        *n += nfound;
    }
    free(found);
    return 0;
}

/* A skipped range as offsets [*lo, *hi) into the region [base, base + len),
 * clipped to it (empty when *lo >= *hi). */
static void clip_range(const struct ukvm_scan_range *r, uint64_t base, uint64_t len,
        uint64_t *lo, uint64_t *hi)
{
    *lo = r->start <= base ? 0 : r->start - base < len ? r->start - base : len;
    *hi = r->end <= base ? 0 : r->end - base < len ? r->end - base : len;
}

int ukvm_scan_code_skip(const uint8_t *code, size_t len, uint64_t base,
        const struct ukvm_scan_range *skip, size_t n_skip,
        struct ukvm_scan_site **sites, size_t *n)
{
    size_t n0 = *n;
    uint64_t pos = 0;   /* offsets from base: nothing can wrap */

    while (pos < len) {
        uint64_t end = len;
        bool inside = false;
        for (size_t i = 0; i < n_skip; i++) {
            uint64_t lo, hi;
            clip_range(&skip[i], base, len, &lo, &hi);
            if (lo >= hi)
                continue;
            if (lo <= pos && pos < hi) {    /* inside: jump past this range */
                pos = hi;
                inside = true;
                break;
            }
            if (lo > pos && lo < end)       /* the piece ends where it starts */
                end = lo;
        }
        if (inside)
            continue;
        if (ukvm_scan_code(code + pos, end - pos, base + pos, sites, n) < 0) {
            *n = n0;
            return -1;
        }
        pos = end;
    }
    return 0;
}

size_t ukvm_scan_one(const uint8_t *code, size_t avail, uint64_t addr,
        struct ukvm_scan_site *site)
{
    ZydisDecoder dec;
    struct ukvm_scan_site s;
    size_t l;

    if (decoder_init(&dec) < 0) {
        if (site)
            memset(site, 0, sizeof *site);
        return 0;
    }
    l = decode_one(&dec, code, avail, addr, &s);
    if (site)
        *site = s;
    return l;
}

int ukvm_scan_is_hypercall_out(const uint8_t *code, size_t avail, size_t *len)
{
    ZydisDecoder dec;
    ZydisDecodedInstruction insn;

    if (len)
        *len = 0;
    if (avail == 0 || decoder_init(&dec) < 0 ||
            !ZYAN_SUCCESS(ZydisDecoderDecodeInstruction(&dec, NULL, code,
                    avail, &insn)))
        return 0;
    if (len)
        *len = insn.length;
    switch (insn.mnemonic) {
    case ZYDIS_MNEMONIC_IN:
    case ZYDIS_MNEMONIC_INSB:
    case ZYDIS_MNEMONIC_INSW:
    case ZYDIS_MNEMONIC_INSD:
    case ZYDIS_MNEMONIC_OUT:
    case ZYDIS_MNEMONIC_OUTSB:
    case ZYDIS_MNEMONIC_OUTSW:
    case ZYDIS_MNEMONIC_OUTSD:
        return 1;
    default:
        return 0;
    }
}

int ukvm_scan_is_rep_string(const uint8_t *code, size_t avail)
{
    ZydisDecoder dec;
    ZydisDecodedInstruction insn;

    if (avail == 0 || decoder_init(&dec) < 0 ||
            !ZYAN_SUCCESS(ZydisDecoderDecodeInstruction(&dec, NULL, code,
                    avail, &insn)))
        return 0;
    return (insn.attributes & (ZYDIS_ATTRIB_HAS_REP | ZYDIS_ATTRIB_HAS_REPE |
                ZYDIS_ATTRIB_HAS_REPNE)) != 0;
}

void ukvm_patch_bytes(const struct ukvm_scan_site *s, uint8_t out[UKVM_SCAN_MAX_INSN])
{
    size_t len = s->len > UKVM_SCAN_MAX_INSN ? UKVM_SCAN_MAX_INSN : s->len;

    memset(out, 0, UKVM_SCAN_MAX_INSN);
    if (len == 0)
        return;
    out[0] = 0xF4;                      /* hlt: KVM_EXIT_HLT, rip = addr + 1 */
    memset(out + 1, 0x90, len - 1);     /* nop padding, never executed */
}

const char *ukvm_patch_kind_name(unsigned kind)
{
    switch (kind) {
    case 0:                 return "none";
    case UKVM_PATCH_RDTSC:  return "rdtsc";
    case UKVM_PATCH_RDTSCP: return "rdtscp";
    case UKVM_PATCH_RDRAND: return "rdrand";
    case UKVM_PATCH_RDSEED: return "rdseed";
    default:                return "unknown";
    }
}
