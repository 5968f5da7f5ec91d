// The register-tile loop of an f32 matrix product for one tile shape, on one thread: an
// R x 16V tile of C in registers, A packed (R values per step), B packed (16V values per
// step), `nb` panels of B swept per pass. Used to check that no tile shape escapes the cost
// of feeding multiply-adds from the caches (BENCHMARKS.md, eighth sitting).
//
//   for rv in "14 2" "12 2" "9 3" "8 3" "7 4" "6 4" "4 6" "28 1"; do set -- $rv
//     gcc -O3 -march=native -DR=$1 -DV=$2 tile_shapes.c -o /tmp/tile_$1_$2
//     /tmp/tile_$1_$2 256 1      # k = 256, one B panel: everything in L1
//   done
//   /tmp/tile_14_2 256 16        # 16 B panels, 512 KiB: B from L2
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

__attribute__((noinline)) void tile(int kc, const float *a, const float *b, float *c, int ldc) {
  __m512 acc[R][V];
  for (int r = 0; r < R; r++)
    for (int v = 0; v < V; v++) acc[r][v] = _mm512_setzero_ps();
#pragma GCC unroll 4
  for (int k = 0; k < kc; k++) {
    __m512 bv[V];
#pragma GCC unroll 8
    for (int v = 0; v < V; v++) bv[v] = _mm512_loadu_ps(b + 16 * v);
#pragma GCC unroll 28
    for (int r = 0; r < R; r++) {
      __m512 av = _mm512_set1_ps(a[r]);
#pragma GCC unroll 8
      for (int v = 0; v < V; v++) acc[r][v] = _mm512_fmadd_ps(av, bv[v], acc[r][v]);
    }
    a += R;
    b += 16 * V;
  }
  for (int r = 0; r < R; r++)
    for (int v = 0; v < V; v++) _mm512_storeu_ps(c + r * ldc + 16 * v, acc[r][v]);
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s kc panels\n", argv[0]);
    return 2;
  }
  int kc = atoi(argv[1]), nb = atoi(argv[2]);
  float *a = aligned_alloc(64, 4L * R * kc);
  float *b = aligned_alloc(64, 4L * 16 * V * kc * nb);
  float *c = aligned_alloc(64, 4L * R * 16 * V * nb);
  for (long i = 0; i < (long)R * kc; i++) a[i] = 1e-3f * i;
  for (long i = 0; i < 16L * V * kc * nb; i++) b[i] = 1e-4f * (i % 1000);
  long passes = 4000000000L / (2L * R * 16 * V * kc * nb) + 1;
  double best = 0;
  for (int rep = 0; rep < 3; rep++) {
    double t = now();
    for (long it = 0; it < passes; it++)
      for (int j = 0; j < nb; j++) tile(kc, a, b + 16L * V * kc * j, c + 16 * V * j, 16 * V * nb);
    double gflops = 2.0 * R * 16 * V * kc * nb * passes / (now() - t) / 1e9;
    if (gflops > best) best = gflops;
  }
  printf("R=%d V=%d kc=%d panels=%d: %.1f GFLOP/s (best of 3; C[0] %g)\n", R, V, kc, nb, best, c[0]);
  return 0;
}
