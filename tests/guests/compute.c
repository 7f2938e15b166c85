/*
 * compute: a deterministic computation for debugger and replay tests.
 * Built with -O1 -g -fno-omit-frame-pointer; every function is noinline.
 *
 * Globals:
 *   uint32_t table[64]          filled by fill_table(), hashed by hash_table()
 *   volatile uint64_t counter   incremented by bump_counter() (one store per
 *                               iteration: a watchpoint fires BUMP_COUNT times)
 *   uint64_t result             the final checksum, written once by main()
 *
 * Functions (call order from main):
 *   fib(n)              recursive Fibonacci: fib(16) = 987 (3193 calls)
 *   count_primes(limit) sieve of Eratosthenes over a local array:
 *                       count_primes(2000) = 303
 *   fill_table(seed)    table[i] = xorshift32 sequence from seed
 *   mix(h, v)           one FNV-1a step over the 4 bytes of v (a leaf)
 *   hash_table()        folds table[] through mix()
 *   bump_counter(n)     counter += 1, n times; returns the final counter
 *   checksum(a, b, c, d) combines the results
 *
 * main() runs fib and count_primes once, fill_table+hash_table for ROUNDS
 * seeds, bump_counter(BUMP_COUNT), then prints
 *     compute: fib=987 primes=303 hash=0x... counter=20000 checksum=0x...
 * and exits 0. About 300k instructions in all.
 */
#include "rt.h"

RT_MANIFEST(0);

#define FIB_N       16
#define SIEVE_LIMIT 2000
#define ROUNDS      8
#define BUMP_COUNT  20000

uint32_t table[64];
volatile uint64_t counter;
uint64_t result;

NOINLINE uint64_t fib(unsigned int n)
{
    if (n < 2)
        return n;
    uint64_t a = fib(n - 1);
    uint64_t b = fib(n - 2);
    return a + b;
}

NOINLINE unsigned int count_primes(unsigned int limit)
{
    uint8_t composite[SIEVE_LIMIT + 1];
    unsigned int count = 0;

    if (limit > SIEVE_LIMIT)
        limit = SIEVE_LIMIT;
    for (unsigned int i = 0; i <= limit; i++)
        composite[i] = 0;
    for (unsigned int i = 2; i * i <= limit; i++) {
        if (composite[i])
            continue;
        for (unsigned int j = i * i; j <= limit; j += i)
            composite[j] = 1;
    }
    for (unsigned int i = 2; i <= limit; i++)
        if (!composite[i])
            count++;
    return count;
}

NOINLINE void fill_table(uint32_t seed)
{
    uint32_t x = seed ? seed : 1;
    for (unsigned int i = 0; i < 64; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        table[i] = x;
    }
}

NOINLINE uint32_t mix(uint32_t h, uint32_t v)
{
    for (unsigned int k = 0; k < 4; k++) {
        h ^= (v >> (8 * k)) & 0xff;
        h *= 16777619u;
    }
    return h;
}

NOINLINE uint32_t hash_table(void)
{
    uint32_t h = 2166136261u;
    for (unsigned int i = 0; i < 64; i++)
        h = mix(h, table[i]);
    return h;
}

NOINLINE uint64_t bump_counter(unsigned int n)
{
    for (unsigned int i = 0; i < n; i++)
        counter += 1;
    return counter;
}

NOINLINE uint64_t checksum(uint64_t a, uint64_t b, uint64_t c, uint64_t d)
{
    uint64_t s = 0x9e3779b97f4a7c15ull;
    uint64_t v[4] = { a, b, c, d };
    for (int i = 0; i < 4; i++) {
        s ^= v[i];
        s *= 0x100000001b3ull;
        s ^= s >> 29;
    }
    return s;
}

int main(const struct hvt_boot_info *bi)
{
    (void)bi;
    uint64_t f = fib(FIB_N);
    unsigned int primes = count_primes(SIEVE_LIMIT);
    uint32_t hash = 0;
    /* An optional first argument multiplies the rounds (benchmarks want a
     * run of a few million instructions); without it the output is fixed. */
    uint32_t rounds = ROUNDS * (uint32_t)cmdline_u64(0, 1);
    for (uint32_t round = 0; round < rounds; round++) {
        fill_table(0x12345678u + round);
        hash ^= hash_table() + round;
    }
    uint64_t c = bump_counter(BUMP_COUNT);
    result = checksum(f, primes, hash, c);
    printf("compute: fib=%lu primes=%u hash=0x%08x counter=%lu checksum=0x%016lx\n",
           f, primes, hash, c, result);
    return 0;
}
