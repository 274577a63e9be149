// Fused MLMC level kernels for GBM under Milstein (mlmc_hpc, CuPy backend).
//
// One launch per batch: each thread draws its normals in registers from Philox4x32-10
// (Salmon et al., SC'11), advances the coupled fine and coarse paths, applies the payoff
// max(a S + b, 0) and accumulates Y = Pf - Pc, Y^2, Y^3, Y^4, Pf, Pf^2 in double precision.
// Blocks reduce in a fixed order (warp shuffles, then shared memory) and write one row
// of partial sums; reduce_partials adds the rows in a fixed order. The same launch shape
// therefore gives bit-identical sums for the same inputs, on any rank.
//
// Milstein step (Giles, MCQMC 2006): S <- S ((u Z + v)^2 + w), u = sigma sqrt(h/2),
// v = 1/sqrt(2), w = 1/2 + (r - sigma^2/2) h; the coarse path uses the sum of each M
// fine normals with w_c = 1/2 + (r - sigma^2/2) M h.
//
// Random stream of sample i in batch b of level l, key = seed (64 bits):
//   normals 2j, 2j+1 of the sample = Box-Muller of Philox(counter = (j_lo, i_lo, b_lo,
//   l | b_hi << 8 | i_hi << 16 | j_hi << 24), key); uniform = (53 bits + 0.5) 2^-53.
// Level 0 uses the pair of normals of one counter for samples 2p and 2p + 1.
// Compiled by NVRTC after philox_normals.cuh (sampler_cupy.kernel_source); the tests also
// compile the pair with `nvcc -c` for sm_75 and sm_90 where nvcc exists.

#define N_OUT 6
#define THREADS 256

// Fixed-order block reduction of N_OUT values per thread; threads 0..N_OUT-1 write the row.
__device__ void block_reduce_store(double v[N_OUT], double *row) {
  __shared__ double warp_sums[THREADS / 32][N_OUT];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
#pragma unroll
  for (int k = 0; k < N_OUT; ++k) {
    for (int offset = 16; offset > 0; offset >>= 1) v[k] += __shfl_down_sync(0xFFFFFFFFu, v[k], offset);
  }
  if (lane == 0) {
#pragma unroll
    for (int k = 0; k < N_OUT; ++k) warp_sums[warp][k] = v[k];
  }
  __syncthreads();
  if (threadIdx.x < N_OUT) {
    double total = 0.0;
    for (int w = 0; w < THREADS / 32; ++w) total += warp_sums[w][threadIdx.x];
    row[threadIdx.x] = total;
  }
}

__device__ __forceinline__ void accumulate(double acc[N_OUT], double y, double pf) {
  const double y2 = y * y;
  acc[0] += y;
  acc[1] += y2;
  acc[2] += y2 * y;
  acc[3] += y2 * y2;
  acc[4] += pf;
  acc[5] += pf * pf;
}

// Level 0: one step of size T, no coarse path; Y = Pf.
extern "C" __global__ void __launch_bounds__(THREADS)
level0(double S0, double u, double v, double w, double a, double b, unsigned long long n,
       unsigned int key0, unsigned int key1, unsigned long long batch, double *partials) {
  double acc[N_OUT] = {0.0, 0.0, 0.0, 0.0, 0.0, 0.0};
  const unsigned long long pairs = (n + 1) / 2;
  const unsigned long long stride = (unsigned long long)gridDim.x * THREADS;
  for (unsigned long long p = (unsigned long long)blockIdx.x * THREADS + threadIdx.x; p < pairs;
       p += stride) {
    const Philox4 counter{0u, (unsigned int)p, (unsigned int)batch, tag_word(0u, batch, p, 0ull)};
    double z[2];
    normal_pair(counter, key0, key1, &z[0], &z[1]);
#pragma unroll
    for (int k = 0; k < 2; ++k) {
      if (2 * p + k < n) {
        const double f = u * z[k] + v;
        const double pf = fmax(a * (S0 * (f * f + w)) + b, 0.0);
        accumulate(acc, pf, pf);
      }
    }
  }
  block_reduce_store(acc, partials + (size_t)blockIdx.x * N_OUT);
}

// Level l >= 1: M^l fine steps and M^(l-1) coarse steps per sample.
extern "C" __global__ void __launch_bounds__(THREADS)
coupled(double S0, double u, double v, double wf, double wc, double a, double b, int M,
        unsigned long long coarse_steps, unsigned int level, unsigned long long n,
        unsigned int key0, unsigned int key1, unsigned long long batch, double *partials) {
  double acc[N_OUT] = {0.0, 0.0, 0.0, 0.0, 0.0, 0.0};
  const unsigned long long stride = (unsigned long long)gridDim.x * THREADS;
  for (unsigned long long i = (unsigned long long)blockIdx.x * THREADS + threadIdx.x; i < n;
       i += stride) {
    double fine = S0, coarse = S0, spare = 0.0;
    bool have_spare = false;
    unsigned long long pair = 0;
    for (unsigned long long step = 0; step < coarse_steps; ++step) {
      double z_sum = 0.0;
      for (int m = 0; m < M; ++m) {
        double z;
        if (have_spare) {
          z = spare;
        } else {
          const Philox4 counter{(unsigned int)pair, (unsigned int)i, (unsigned int)batch,
                                tag_word(level, batch, i, pair)};
          normal_pair(counter, key0, key1, &z, &spare);
          ++pair;
        }
        have_spare = !have_spare;
        const double f = u * z + v;
        fine *= f * f + wf;
        z_sum += z;
      }
      const double c = u * z_sum + v;
      coarse *= c * c + wc;
    }
    const double pf = fmax(a * fine + b, 0.0);
    const double pc = fmax(a * coarse + b, 0.0);
    accumulate(acc, pf - pc, pf);
  }
  block_reduce_store(acc, partials + (size_t)blockIdx.x * N_OUT);
}

// Roofline: the same launch shape and stream, only generating and summing normals.
extern "C" __global__ void __launch_bounds__(THREADS)
normals_only(unsigned long long pairs_per_thread, unsigned int key0, unsigned int key1,
             double *partials) {
  double acc[N_OUT] = {0.0, 0.0, 0.0, 0.0, 0.0, 0.0};
  const unsigned long long i = (unsigned long long)blockIdx.x * THREADS + threadIdx.x;
  for (unsigned long long pair = 0; pair < pairs_per_thread; ++pair) {
    const Philox4 counter{(unsigned int)pair, (unsigned int)i, 0u, tag_word(1u, 0ull, i, pair)};
    double z0, z1;
    normal_pair(counter, key0, key1, &z0, &z1);
    acc[0] += z0 + z1;
  }
  block_reduce_store(acc, partials + (size_t)blockIdx.x * N_OUT);
}

// Sum the rows of partials (blocks x N_OUT) in a fixed order: one block of THREADS.
extern "C" __global__ void __launch_bounds__(THREADS)
reduce_partials(const double *partials, unsigned int blocks, double *out) {
  double acc[N_OUT] = {0.0, 0.0, 0.0, 0.0, 0.0, 0.0};
  for (unsigned int row = threadIdx.x; row < blocks; row += THREADS) {
#pragma unroll
    for (int k = 0; k < N_OUT; ++k) acc[k] += partials[(size_t)row * N_OUT + k];
  }
  block_reduce_store(acc, out);
}
