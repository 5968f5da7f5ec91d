// The multiply-adds of a 14x32 register tile (2 vector loads, 14 broadcasts, 28 FMAs per
// step) with their loads walking through W floats of L1, or (W = 64) reading one fixed line
// every step. Compare with FMAs alone (the criterion ceiling `machine/fma_f32_peak_all_threads`
// on one thread) to see what feeding the FMAs from the caches costs (BENCHMARKS.md, eighth
// sitting).
//
//   for w in 64 1024 4096 8192; do
//     gcc -O3 -march=native -DW=$w streaming_fma.c -o /tmp/streaming_$w
//     /tmp/streaming_$w 200000000
//   done
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s steps\n", argv[0]);
    return 2;
  }
  long steps = atol(argv[1]);
  float *buf = aligned_alloc(64, 4 * (W + 64));
  for (int i = 0; i < W + 64; i++) buf[i] = 1e-6f * i;
  __m512 acc[28];
  for (int i = 0; i < 28; i++) acc[i] = _mm512_setzero_ps();
  const float *p = buf;
  double t = now();
  for (long it = 0; it < steps; it++) {
    __m512 b0 = _mm512_load_ps(p), b1 = _mm512_load_ps(p + 16);
#pragma GCC unroll 14
    for (int r = 0; r < 14; r++) {
      __m512 av = _mm512_set1_ps(p[32 + r]);
      acc[2 * r] = _mm512_fmadd_ps(av, b0, acc[2 * r]);
      acc[2 * r + 1] = _mm512_fmadd_ps(av, b1, acc[2 * r + 1]);
    }
    p += 64;
    if (p >= buf + W) p = buf;
    __asm__ volatile("" : "+r"(p));  // keep the address a runtime value
  }
  double dt = now() - t;
  __m512 s = acc[0];
  for (int i = 1; i < 28; i++) s = _mm512_add_ps(s, acc[i]);
  float out[16];
  _mm512_storeu_ps(out, s);
  printf("W=%d: %.1f GFLOP/s (sum %g)\n", W, steps * 28.0 * 32 / dt / 1e9, out[0]);
  return 0;
}
