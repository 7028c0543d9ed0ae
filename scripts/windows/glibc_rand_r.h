/* Forced into SEP's sources (-include) by scripts/windows/build-deps.sh for the MinGW build.
 * SEP's deblending draws pixels with rand_r() seeded with 1 on each extraction; MinGW has no
 * rand_r and its RAND_MAX is 32767, glibc's 2^31-1. To deblend exactly as the Linux library does,
 * the Windows build gets glibc's generator (the same three steps of the same linear congruence)
 * and glibc's RAND_MAX: with plain rand() the deblended fluxes differ from Linux. */
#ifndef TIANYU_GLIBC_RAND_R_H
#define TIANYU_GLIBC_RAND_R_H
#include <stdlib.h>
#undef RAND_MAX
#define RAND_MAX 2147483647

static inline int tianyu_glibc_rand_r(unsigned int *seed) {
  unsigned int next = *seed;
  int result;
  next *= 1103515245u;
  next += 12345u;
  result = (int)((next / 65536u) % 2048u);
  next *= 1103515245u;
  next += 12345u;
  result <<= 10;
  result ^= (int)((next / 65536u) % 1024u);
  next *= 1103515245u;
  next += 12345u;
  result <<= 10;
  result ^= (int)((next / 65536u) % 1024u);
  *seed = next;
  return result;
}
#define rand_r(SEED) tianyu_glibc_rand_r(SEED)
#endif
