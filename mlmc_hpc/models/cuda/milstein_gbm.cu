// Fused MLMC level kernels for GBM under Milstein (mlmc_hpc, CuPy backend).
//
// One launch per batch: each thread (or, for deep levels with few samples, each warp)
// draws its normals in registers from Philox4x32-10 (Salmon et al., SC'11), advances the
// coupled fine and coarse paths, applies the payoff max(a S + b, 0) and accumulates
// Y = Pf - Pc, Y^2, Y^3, Y^4, Pf, Pf^2 in double precision. Blocks reduce in a fixed order
// (warp shuffles, then shared memory) and write one row of partial sums; reduce_partials
// adds the rows in a fixed order. The same launch shape therefore gives bit-identical
// sums for the same inputs, on any rank.
//
// Milstein step (Giles, MCQMC 2006): S <- S ((u Z + v)^2 + w), u = sigma sqrt(h/2),
// v = 1/sqrt(2), w = 1/2 + (r - sigma^2/2) h; the coarse path uses the sum of each M
// fine normals with w_c = 1/2 + (r - sigma^2/2) M h.
//
// Random stream of sample i in batch b of level l, key = seed (64 bits):
//   normals 2j, 2j+1 of the sample = Box-Muller of Philox(counter = (j_lo, i_lo, b_lo,
//   l | b_hi << 8 | i_hi << 16 | j_hi << 24), key); uniform = (2^52 - 52 bits) 2^-52.
// Level 0 uses the pair of normals of one counter for samples 2p and 2p + 1. With M = 2
// pair j is exactly coarse step j (coupled2, coupled2_warp: no spare normal to carry).
// Compiled by NVRTC after philox_normals.cuh (cupy_sampler.kernel_source); the tests also
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

// Level 0: one step of size T, no coarse path; Y = Pf, so only the four Y sums are
// accumulated and Pf, Pf^2 are copies of Y, Y^2.
extern "C" __global__ void __launch_bounds__(THREADS)
level0(double S0, double u, double v, double w, double a, double b, unsigned long long n,
       RoundKeys key, unsigned long long batch, double *partials) {
  double acc[N_OUT] = {0.0, 0.0, 0.0, 0.0, 0.0, 0.0};
  const unsigned long long pairs = (n + 1) / 2;
  const unsigned long long stride = (unsigned long long)gridDim.x * THREADS;
  for (unsigned long long p = (unsigned long long)blockIdx.x * THREADS + threadIdx.x; p < pairs;
       p += stride) {
    const Philox4 counter{0u, (unsigned int)p, (unsigned int)batch, tag_word(0u, batch, p, 0ull)};
    double z[2];
    normal_pair(counter, key, &z[0], &z[1]);
#pragma unroll
    for (int k = 0; k < 2; ++k) {
      if (2 * p + k < n) {
        const double f = u * z[k] + v;
        const double y = fmax(a * (S0 * (f * f + w)) + b, 0.0), y2 = y * y;
        acc[0] += y;
        acc[1] += y2;
        acc[2] += y2 * y;
        acc[3] += y2 * y2;
      }
    }
  }
  acc[4] = acc[0];
  acc[5] = acc[1];
  block_reduce_store(acc, partials + (size_t)blockIdx.x * N_OUT);
}

// Level l >= 1, any M: M^l fine steps and M^(l-1) coarse steps per sample.
extern "C" __global__ void __launch_bounds__(THREADS)
coupled(double S0, double u, double v, double wf, double wc, double a, double b, int M,
        unsigned long long coarse_steps, unsigned int level, unsigned long long n,
        RoundKeys key, unsigned long long batch, double *partials) {
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
          normal_pair(counter, key, &z, &spare);
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

// Coarse steps j0, j0 + stride, ... < coarse_steps of one M = 2 sample: one Philox pair
// per coarse step; multiplies the fine and coarse Milstein factors into *fine, *coarse.
__device__ __forceinline__ void steps2(double u, double v, double wf, double wc,
                                       unsigned int coarse_steps, unsigned int j0,
                                       unsigned int stride, unsigned int sample_lo,
                                       unsigned int batch_lo, unsigned int tag,
                                       const RoundKeys &key, double *fine, double *coarse) {
  double f_acc = *fine, c_acc = *coarse;
  for (unsigned int j = j0; j < coarse_steps; j += stride) {
    double z0, z1;
    normal_pair(Philox4{j, sample_lo, batch_lo, tag}, key, &z0, &z1);
    const double f0 = u * z0 + v, f1 = u * z1 + v, c = u * (z0 + z1) + v;
    f_acc *= (f0 * f0 + wf) * (f1 * f1 + wf);
    c_acc *= c * c + wc;
  }
  *fine = f_acc;
  *coarse = c_acc;
}

// Level l >= 1 with M = 2, one thread per sample.
extern "C" __global__ void __launch_bounds__(THREADS)
coupled2(double S0, double u, double v, double wf, double wc, double a, double b,
         unsigned int coarse_steps, unsigned int level, unsigned long long n, RoundKeys key,
         unsigned long long batch, double *partials) {
  double acc[N_OUT] = {0.0, 0.0, 0.0, 0.0, 0.0, 0.0};
  const unsigned long long stride = (unsigned long long)gridDim.x * THREADS;
  for (unsigned long long i = (unsigned long long)blockIdx.x * THREADS + threadIdx.x; i < n;
       i += stride) {
    double fine = S0, coarse = S0;
    steps2(u, v, wf, wc, coarse_steps, 0u, 1u, (unsigned int)i, (unsigned int)batch,
           tag_word(level, batch, i, 0ull), key, &fine, &coarse);
    const double pf = fmax(a * fine + b, 0.0);
    const double pc = fmax(a * coarse + b, 0.0);
    accumulate(acc, pf - pc, pf);
  }
  block_reduce_store(acc, partials + (size_t)blockIdx.x * N_OUT);
}

// Level l >= 1 with M = 2, one warp per sample (deep levels with few samples): lane k takes
// coarse steps k, k + 32, ...; the European payoff needs only the products, which a
// butterfly of shuffles combines (every lane ends with the same product, in a fixed order).
extern "C" __global__ void __launch_bounds__(THREADS)
coupled2_warp(double S0, double u, double v, double wf, double wc, double a, double b,
              unsigned int coarse_steps, unsigned int level, unsigned long long n,
              RoundKeys key, unsigned long long batch, double *partials) {
  double acc[N_OUT] = {0.0, 0.0, 0.0, 0.0, 0.0, 0.0};
  const unsigned int lane = threadIdx.x & 31u;
  const unsigned long long warps = (unsigned long long)gridDim.x * (THREADS / 32);
  for (unsigned long long i = ((unsigned long long)blockIdx.x * THREADS + threadIdx.x) >> 5;
       i < n; i += warps) {  // warp-uniform: every lane reaches the shuffles
    double fine = 1.0, coarse = 1.0;
    steps2(u, v, wf, wc, coarse_steps, lane, 32u, (unsigned int)i, (unsigned int)batch,
           tag_word(level, batch, i, 0ull), key, &fine, &coarse);
    for (int offset = 16; offset > 0; offset >>= 1) {
      fine *= __shfl_xor_sync(0xFFFFFFFFu, fine, offset);
      coarse *= __shfl_xor_sync(0xFFFFFFFFu, coarse, offset);
    }
    if (lane == 0) {
      const double pf = fmax(a * (S0 * fine) + b, 0.0);
      const double pc = fmax(a * (S0 * coarse) + b, 0.0);
      accumulate(acc, pf - pc, pf);
    }
  }
  block_reduce_store(acc, partials + (size_t)blockIdx.x * N_OUT);
}

// Roofline: the same launch shape and stream, only generating and summing normals.
extern "C" __global__ void __launch_bounds__(THREADS)
normals_only(unsigned int pairs_per_thread, RoundKeys key, double *partials) {
  double acc[N_OUT] = {0.0, 0.0, 0.0, 0.0, 0.0, 0.0};
  const unsigned long long i = (unsigned long long)blockIdx.x * THREADS + threadIdx.x;
  const unsigned int tag = tag_word(1u, 0ull, i, 0ull);
  for (unsigned int pair = 0; pair < pairs_per_thread; ++pair) {
    double z0, z1;
    normal_pair(Philox4{pair, (unsigned int)i, 0u, tag}, key, &z0, &z1);
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
