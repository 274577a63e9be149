// Multilevel quasi-Monte Carlo for European calls and puts (mlmc_hpc, CuPy backend).
//
// Giles & Waterhouse 2009 (MLQMC): point i of the set (seed, level, randomisation r) is a
// randomised Sobol point; its coordinates build the fine path's Brownian motion by the
// Brownian bridge, the coarse path steps on sums of M fine increments. The contract (and
// a NumPy twin) is mlmc_hpc/models/qmc_hash.py; in short:
//   Sobol coordinate k < 64: x = XOR of directions[k][b] over the set bits b of
//   gray(i) = i ^ (i >> 1) (point i made directly, any range independent); y =
//   brev(H(brev(x))) with the keyed hash H(x): x += k0; x ^= x (2 k1); x *= k2 | 1;
//   x ^= x (2 k3), a nested scramble (each digit flipped by a function of the digits
//   before it: Owen 1995, hashed as in Laine & Karras 2011, Burley 2020); (k0..k3) =
//   Philox(k, 0, r, level | 0x51 << 24); u = (y + 1/2) 2^-32; z = normcdfinv(u).
//   Coordinate k >= 64, e = ctz(k): component e & 1 of normal_pair(Philox(k >> (e & 1), i,
//   r, level | 0x52 << 24)): the European stream's layout with a tag its counters never
//   have; one pair serves k (e even) and its left child 2k, the next node the walk meets.
// Bridge: coordinate 0 sets W(T) = sqrt(n h) z_0, coordinate k the k-th midpoint in the
// breadth-first bisection order of qmc.bridge_order; an internal node (interval of >= 2
// steps) at depth d < D = floor(log2 n) has k = 2^d + its position at that depth (all
// 2^d intervals there are internal), at depth D k = 2^D + the number of internal depth-D
// nodes left of it. One thread walks the bisection tree depth first, in order, keeping
// W at the right ends of the pending intervals (ceil(log2 n) doubles in shared memory,
// steps <= 2^22), and emits the increments left to right: W(mid) = ((r - mid) W(l) + (mid - l) W(r)) / (r - l)
//                 + sqrt(h (mid - l)(r - mid) / (r - l)) z_k.
// Milstein: S <- S ((s dW + v)^2 + w), s = sigma / sqrt(2) (= u Z, Z = dW / sqrt(h)).
// The host tests compile the device functions with g++ (QMC_HOST_HARNESS defined).

#define QMC_DIMS 64
#define QMC_BITS 32
#define QMC_KEY_TAG 0x51u
#define QMC_PAD_TAG 0x52u

struct QMCPath {
  double S0, s, v, wf, wc, a, b, root_h, root_nh;  // root_nh = sqrt(n h): W(T) = root_nh z_0
  unsigned int steps, M, level, randomisation;     // M = 0 (level 0): no coarse path
};

__device__ __forceinline__ unsigned int qmc_word(unsigned int level, unsigned int tag) {
  return (level & 0xFFu) | tag << 24;
}

// The scramble key (k0, k1, k2, k3) of one dimension of one randomisation.
__device__ __forceinline__ Philox4 qmc_scramble_key(const RoundKeys &key, unsigned int level,
                                                    unsigned int randomisation, unsigned int dim) {
  return philox4x32_10(Philox4{dim, 0u, randomisation, qmc_word(level, QMC_KEY_TAG)}, key);
}

// Scrambled 32-bit Sobol coordinate of a point: dirs holds the dimension's 32 directions.
__device__ __forceinline__ unsigned int qmc_sobol_bits(unsigned int point, const unsigned int *dirs,
                                                       const Philox4 &k) {
  unsigned int x = 0u;
  for (unsigned int g = point ^ (point >> 1); g != 0u; g &= g - 1u) x ^= dirs[__ffs((int)g) - 1];
  x = __brev(x) + k.x;
  x ^= x * (k.y << 1);
  x *= k.z | 1u;
  x ^= x * (k.w << 1);
  return __brev(x);
}

__device__ __forceinline__ double qmc_uniform(unsigned int bits) {
  return ((double)bits + 0.5) * (1.0 / 4294967296.0);  // exact: the cell centre
}

// Right end of the bisection node at (depth, pos): closed form for n = 2^L, else the
// walk down from [0, n] along the bits of pos (mid = left + (right - left) / 2).
__device__ __forceinline__ unsigned int qmc_right_end(unsigned int n, unsigned int depth,
                                                      unsigned int pos) {
  if ((n & (n - 1u)) == 0u) return (pos + 1u) << (31u - (unsigned int)__clz((int)n) - depth);
  unsigned int left = 0u, right = n;
  for (unsigned int j = depth; j-- > 0u;) {
    const unsigned int mid = left + (right - left) / 2u;
    if ((pos >> j) & 1u) {
      left = mid;
    } else {
      right = mid;
    }
  }
  return right;
}

// Fine and coarse terminal values (S_T) of one point: the walk described above. frames
// (stride apart) holds W at the right ends of the pending intervals: ceil(log2 n) values.
// A padding pair serves coordinates k (ctz(k) even) and 2k, its left child, visited next:
// the second normal waits in a register.
__device__ __forceinline__ void qmc_terminal(const QMCPath &p, unsigned int point,
                                             const unsigned int *dirs, const Philox4 *keys,
                                             const RoundKeys &key, double *frames,
                                             unsigned int stride, double *fine_out,
                                             double *coarse_out) {
  const unsigned int n = p.steps, deepest = 31u - (unsigned int)__clz((int)n);
  const unsigned int pad_word = qmc_word(p.level, QMC_PAD_TAG);
  unsigned int top = 0u, left = 0u, right = n, pos = 0u, depth = 0u, deep_count = 0u;
  unsigned int in_group = 0u, cached_for = 0u;
  double cached = 0.0, w_left = 0.0;
  double w_right = p.root_nh * normcdfinv(qmc_uniform(qmc_sobol_bits(point, dirs, keys[0])));
  double fine = p.S0, coarse = p.S0, group_dW = 0.0;
  for (;;) {
    while (right - left >= 2u) {  // split down to one step, pushing W(right)
      const unsigned int mid = left + (right - left) / 2u;
      const unsigned int k = depth < deepest ? (1u << depth) + pos : (1u << deepest) + deep_count++;
      double z;
      if (k < QMC_DIMS) {
        z = normcdfinv(qmc_uniform(qmc_sobol_bits(point, dirs + QMC_BITS * k, keys[k])));
      } else if (k == cached_for) {
        z = cached;
      } else {
        const unsigned int odd = (unsigned int)(__ffs((int)k) - 1) & 1u;
        double z0, z1;
        normal_pair(Philox4{k >> odd, point, p.randomisation, pad_word}, key, &z0, &z1);
        z = odd ? z1 : z0;
        if (!odd) {
          cached = z1;
          cached_for = 2u * k;
        }
      }
      const double span = (double)(right - left), dl = (double)(mid - left),
                   dr = (double)(right - mid);
      const double w_mid = dr / span * w_left + dl / span * w_right +
                           p.root_h * sqrt(dl * dr / span) * z;
      frames[stride * top++] = w_right;
      right = mid;
      w_right = w_mid;
      pos *= 2u;
      ++depth;
    }
    const double dW = w_right - w_left, f = p.s * dW + p.v;  // one fine step
    fine *= f * f + p.wf;
    if (p.M != 0u) {
      group_dW += dW;
      if (++in_group == p.M) {
        const double c = p.s * group_dW + p.v;
        coarse *= c * c + p.wc;
        group_dW = 0.0;
        in_group = 0u;
      }
    }
    if (top == 0u) break;
    while (pos & 1u) {  // up past the right children: the next node is a right sibling
      pos >>= 1;
      --depth;
    }
    ++pos;
    left = right;
    w_left = w_right;
    w_right = frames[stride * --top];
    right = qmc_right_end(n, depth, pos);
  }
  *fine_out = fine;
  *coarse_out = coarse;
}

#ifndef QMC_HOST_HARNESS
// Points first..first+n-1 (first + n <= 2^32) of randomisation r of a level: one thread
// per point. Each block first makes the dimensions' scramble keys in shared memory; the
// dynamic shared memory holds ceil(log2 steps) pending W values per thread (launched with
// ceil(log2 steps) * THREADS * 8 bytes). Block rows of Y = Pf - Pc, Y^2, Y^3, Y^4, Pf, Pf^2.
extern "C" __global__ void __launch_bounds__(THREADS)
qmc_sobol(double S0, double s, double v, double wf, double wc, double a, double b, double root_h,
          double root_nh, unsigned int steps, unsigned int M, unsigned int level,
          unsigned int randomisation, unsigned long long first, unsigned long long n,
          const unsigned int *directions, RoundKeys key, double *partials) {
  extern __shared__ double qmc_frames[];
  __shared__ Philox4 keys[QMC_DIMS];
  if (threadIdx.x < QMC_DIMS && threadIdx.x < steps)
    keys[threadIdx.x] = qmc_scramble_key(key, level, randomisation, threadIdx.x);
  __syncthreads();
  const QMCPath path{S0, s, v, wf, wc, a, b, root_h, root_nh, steps, level ? M : 0u, level,
                     randomisation};
  double acc[N_OUT] = {0.0, 0.0, 0.0, 0.0, 0.0, 0.0};
  const unsigned long long stride = (unsigned long long)gridDim.x * THREADS;
  for (unsigned long long i = (unsigned long long)blockIdx.x * THREADS + threadIdx.x; i < n;
       i += stride) {
    double fine, coarse;
    qmc_terminal(path, (unsigned int)(first + i), directions, keys, key, qmc_frames + threadIdx.x,
                 THREADS, &fine, &coarse);
    const double pf = fmax(a * fine + b, 0.0);
    const double pc = level ? fmax(a * coarse + b, 0.0) : 0.0;
    accumulate(acc, pf - pc, pf);
  }
  block_reduce_store(acc, partials + (size_t)blockIdx.x * N_OUT);
}
#endif
