// Fused multiply-adds on registers only, twelve independent chains per thread: the FMA-only
// ceiling that `tile_shapes.c` and `streaming_fma.c` are compared with (the criterion bench
// `machine/fma_f32_peak_all_threads` measures the same loop).
//
//   gcc -O3 -march=native -pthread fma_peak.c -o /tmp/fma_peak && /tmp/fma_peak 1
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define STEPS 1000000000L /* per chain */

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

static void *chains(void *out) {
  __m512 acc[12], b = _mm512_set1_ps(1.0000001f), c = _mm512_set1_ps(1e-7f);
  for (int i = 0; i < 12; i++) acc[i] = _mm512_set1_ps((float)i);
  for (long s = 0; s < STEPS / 16; s++)
    for (int i = 0; i < 12; i++) acc[i] = _mm512_fmadd_ps(acc[i], b, c);
  __m512 sum = acc[0];
  for (int i = 1; i < 12; i++) sum = _mm512_add_ps(sum, acc[i]);
  *(float *)out = _mm512_reduce_add_ps(sum);
  return NULL;
}

int main(int argc, char **argv) {
  int threads = argc > 1 ? atoi(argv[1]) : 1;
  if (threads < 1 || threads > 64) {
    fprintf(stderr, "usage: %s threads (1-64)\n", argv[0]);
    return 2;
  }
  pthread_t ids[64];
  float out[64];
  double t = now();
  for (int i = 0; i < threads; i++) pthread_create(&ids[i], NULL, chains, &out[i]);
  for (int i = 0; i < threads; i++) pthread_join(ids[i], NULL);
  double dt = now() - t;
  printf("threads %d: %.1f GFLOP/s (sum %g)\n", threads, threads * (STEPS / 16) * 12.0 * 16 * 2 / dt / 1e9, out[0]);
  return 0;
}
