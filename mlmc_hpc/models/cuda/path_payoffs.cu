// Fused MLMC level kernels for the path-dependent payoffs (mlmc_hpc, CuPy backend).
//
// Coupled fine/coarse Milstein paths of GBM with the estimators of Giles, "Improved
// multilevel Monte Carlo convergence using the Milstein scheme", MCQMC 2006, section 4,
// exactly as mlmc_hpc/models/paths.py writes them for any refinement factor M: a coarse
// step of size H = M h is made of M fine sub-steps with increments dW_1..dW_M, partial
// sums w_0 = 0, ..., w_M = dW, and v = sigma X_0 frozen over the step:
//   Milstein   X_1 = X_0 ((1 + r H) + sigma dW + sigma^2/2 (dW^2 - H))
//   asian      int X dt += H/2 (X_0 + X_1) + v (sum_j I_j + h (w_1 + .. + w_{M-1} + dW/2)
//              - H dW / 2), I_j = h sqrt(h/12) xi_j; geometric: ln X and v = sigma
//   lookback   min over sub-interval a..b of the bridge through the nodes
//              X^(j) = X_0 + (j/M)(X_1 - X_0) + v (w_j - (j/M) dW):
//              (a + b - sqrt((b - a)^2 - 2 h v^2 ln U_j)) / 2, payoff X_T - min
//   barrier    survival *= 1 - exp(-2 max(0, (a - B)(b - B)) / (h v^2)), payoff
//              survival max(X_T - K, 0) (down-and-out call)
//   digital    on the last step: payout N((X_0 (1 + r H) + v w_{M-1} - K) / (v sqrt h))
// The fine path is the same with M = 1 (one sub-step per step); everything is discounted
// by e^{-rT}. Level 0 is one fine step of size T and no coarse path (Pc = 0).
//
// Random stream of sample i in batch b of level l (l < 128), key = seed (64 bits):
//   normals:  pair j = Box-Muller of Philox(counter = (j_lo, i_lo, b_lo, tag)),
//             tag = tag_word(l, b, i, j) = l | b_hi << 8 | i_hi << 16 | j_hi << 24;
//             its normals 2j, 2j + 1 are the Z of fine steps 2j, 2j + 1 (dW = sqrt(h) Z)
//   extras:   the same counter with bit 7 of the tag's level byte set (tag | 0x80, never set
//             by the normals since l < 128), pair j again feeding fine steps 2j, 2j + 1:
//             asian: the two Box-Muller normals xi of the bridge integrals;
//             lookback: the uniforms U = uniform52(x, y) and uniform52(z, w) in (0, 1].
// Fine step s of coarse step g is s = g M + j, so with M = 2 normal pair g is exactly
// coarse step g; with odd M a pair straddles two coarse steps (the stream keeps it).
// The lookback and barrier coarse bridge needs X_1 before its sub-intervals: a second pass
// over the coarse step's sub-steps draws their pairs again (free with M = 2: one pair,
// held in registers). One thread per sample, fixed-order block reduction
// (block_reduce_store, milstein_gbm.cu); NumPy twin: tests/gpu/path_reference.py.
// Kernels path_asian_arithmetic, path_asian_geometric, path_lookback, path_digital and
// path_barrier take PathParams' fields, then (level, n, key, batch, partials); everything
// outside the PATH_PAYOFFS_HOST_ONLY block also compiles on the host (g++) for the tests.

enum PathKind { ASIAN_ARITHMETIC = 0, ASIAN_GEOMETRIC = 1, LOOKBACK = 2, DIGITAL = 3, BARRIER = 4 };
enum ExtraKind { NO_EXTRA = 0, NORMAL_EXTRA = 1, UNIFORM_EXTRA = 2 };
#define EXTRA_TAG 0x80u

// The option and level of a launch, as the host computes them (kernel arguments stay in
// the constant bank, not in registers). param: barrier level B (barrier), cash payout
// (digital), unused otherwise. Fine steps have size h, coarse steps H = M h.
struct PathParams {
  double S0, K, sigma, T, h, H;
  double sqrt_h, i_scale;           // sqrt(h); h sqrt(h/12), the sd of a bridge integral I_j
  double grow_f, grow_c, half_s2;   // 1 + r h, 1 + r H, sigma^2 / 2
  double discount, param;           // e^{-rT}; B or the payout
  int M;                            // fine sub-steps per coarse step
  unsigned long long coarse_steps;  // M^(l-1); 0 at level 0 (one fine step of size h = T)
};

// The random numbers of one sample: fine step s -> (Z_s, extra_s); pair s/2 is held in
// registers, so sequential steps draw each Philox pair once.
template <int EXTRA>
struct SampleStream {
  unsigned int sample_lo, batch_lo, tag;
  unsigned long long held;
  double z0, z1, e0, e1;

  __device__ __forceinline__ SampleStream(unsigned int level, unsigned long long batch,
                                          unsigned long long sample)
      : sample_lo((unsigned int)sample), batch_lo((unsigned int)batch),
        tag(tag_word(level, batch, sample, 0ull)), held(~0ull), z0(0.0), z1(0.0), e0(0.0),
        e1(0.0) {}

  __device__ __forceinline__ void at(unsigned long long s, const RoundKeys &key, double *z,
                                     double *e) {
    const unsigned long long pair = s >> 1;
    if (pair != held) {
      const unsigned int t = tag | tag_word(0u, 0ull, 0ull, pair);
      normal_pair(Philox4{(unsigned int)pair, sample_lo, batch_lo, t}, key, &z0, &z1);
      const Philox4 extra{(unsigned int)pair, sample_lo, batch_lo, t | EXTRA_TAG};
      if (EXTRA == NORMAL_EXTRA) normal_pair(extra, key, &e0, &e1);
      if (EXTRA == UNIFORM_EXTRA) {
        const Philox4 bits = philox4x32_10(extra, key);
        e0 = uniform52(bits.x, bits.y);
        e1 = uniform52(bits.z, bits.w);
      }
      held = pair;
    }
    const bool odd = (s & 1ull) != 0ull;
    *z = odd ? z1 : z0;
    *e = odd ? e1 : e0;
  }
};

__host__ __device__ constexpr int extra_of(int kind) {
  return kind <= ASIAN_GEOMETRIC ? NORMAL_EXTRA : kind == LOOKBACK ? UNIFORM_EXTRA : NO_EXTRA;
}

// One path's state: price x, running functional acc (integral, minimum or survival), and
// for the digital the price at the start of the last step (last) and w_{M-1} (w_last).
struct PathState {
  double x, acc, last, w_last;
};

__device__ __forceinline__ PathState start_state(int kind, double S0) {
  return PathState{S0, kind == LOOKBACK ? S0 : kind == BARRIER ? 1.0 : 0.0, S0, 0.0};
}

// Lookback: running minimum over the sub-interval a..b; barrier: survival factor.
template <int KIND>
__device__ __forceinline__ void bridge(const PathParams &p, double a, double b, double v,
                                       double e, double *acc) {
  if (KIND == LOOKBACK) {
    const double low = 0.5 * (a + b - sqrt((b - a) * (b - a) - 2.0 * p.h * v * v * log(e)));
    *acc = fmin(*acc, low);
  }
  if (KIND == BARRIER) {
    const double B = p.param;
    *acc *= -expm1(-2.0 * fmax(0.0, (a - B) * (b - B)) / (p.h * v * v));
  }
}

// Milstein step of size H with increment dw.
__device__ __forceinline__ double milstein(const PathParams &p, double x0, double grow, double H,
                                           double dw) {
  return x0 * (grow + p.sigma * dw + p.half_s2 * (dw * dw - H));
}

// One fine step (M = 1): z the step's normal, e its extra random.
template <int KIND>
__device__ __forceinline__ void fine_step(const PathParams &p, double z, double e,
                                          PathState *f) {
  const double h = p.h, dw = z * p.sqrt_h, x0 = f->x;
  const double x1 = milstein(p, x0, p.grow_f, h, dw);
  if (KIND == ASIAN_ARITHMETIC)
    f->acc += 0.5 * h * (x0 + x1) + p.sigma * x0 * (e * p.i_scale);
  if (KIND == ASIAN_GEOMETRIC)
    f->acc += 0.5 * h * (log(x0) + log(x1)) + p.sigma * (e * p.i_scale);
  if (KIND == LOOKBACK || KIND == BARRIER) bridge<KIND>(p, x0, x1, p.sigma * x0, e, &f->acc);
  f->last = x0;
  f->x = x1;
}

// Coarse step g (fine steps g M .. g M + M - 1): advances the fine path M steps and the
// coarse path one step with the same dW, I and U.
template <int KIND>
__device__ __forceinline__ void coupled_step(const PathParams &p, unsigned long long g,
                                             const RoundKeys &key, SampleStream<extra_of(KIND)> &rng,
                                             PathState *f, PathState *c) {
  const int M = p.M;
  const double sqrt_h = p.sqrt_h, H = p.H;
  const unsigned long long first = g * (unsigned long long)M;
  double dw = 0.0, sum_w = 0.0, sum_i = 0.0, w_last = 0.0;
  for (int j = 0; j < M; ++j) {
    double z, e;
    rng.at(first + (unsigned long long)j, key, &z, &e);
    fine_step<KIND>(p, z, e, f);
    w_last = dw;
    dw += z * sqrt_h;
    if (j < M - 1) sum_w += dw;
    sum_i += e * p.i_scale;
  }
  const double x0 = c->x, x1 = milstein(p, x0, p.grow_c, H, dw), v = p.sigma * x0;
  if (KIND == ASIAN_ARITHMETIC || KIND == ASIAN_GEOMETRIC) {
    const double between = sum_i + p.h * (sum_w + 0.5 * dw) - 0.5 * H * dw;
    if (KIND == ASIAN_ARITHMETIC) c->acc += 0.5 * H * (x0 + x1) + v * between;
    else c->acc += 0.5 * H * (log(x0) + log(x1)) + p.sigma * between;
  }
  if (KIND == LOOKBACK || KIND == BARRIER) {
    double a = x0, w = 0.0;
    for (int j = 1; j <= M; ++j) {
      double z, e;
      rng.at(first + (unsigned long long)(j - 1), key, &z, &e);
      w += z * sqrt_h;
      const double t = (double)j / (double)M;
      const double b = j == M ? x1 : x0 + t * (x1 - x0) + v * (w - t * dw);
      bridge<KIND>(p, a, b, v, e, &c->acc);
      a = b;
    }
  }
  c->last = x0;
  c->w_last = w_last;
  c->x = x1;
}

// Discounted payoff of a path; grow = 1 + r H, H the size of its steps.
template <int KIND>
__device__ __forceinline__ double path_payoff(const PathParams &p, const PathState &s,
                                              double grow) {
  double value = 0.0;
  if (KIND == ASIAN_ARITHMETIC) value = fmax(s.acc / p.T - p.K, 0.0);
  if (KIND == ASIAN_GEOMETRIC) value = fmax(exp(s.acc / p.T) - p.K, 0.0);
  if (KIND == LOOKBACK) value = s.x - s.acc;
  if (KIND == DIGITAL) {
    const double v = p.sigma * s.last;
    const double mean = s.last * grow + v * s.w_last;
    value = p.param * (0.5 * erfc(-((mean - p.K) / (v * p.sqrt_h)) / 1.4142135623730951));
  }
  if (KIND == BARRIER) value = s.acc * fmax(s.x - p.K, 0.0);
  return p.discount * value;
}

// (Pf, Pc) of one sample, its randoms drawn from rng (see the header).
template <int KIND>
__device__ __forceinline__ void coupled_sample(const PathParams &p, const RoundKeys &key,
                                               SampleStream<extra_of(KIND)> &rng, double *pf,
                                               double *pc) {
  PathState f = start_state(KIND, p.S0), c = start_state(KIND, p.S0);
  if (p.coarse_steps == 0ull) {  // level 0
    double z, e;
    rng.at(0ull, key, &z, &e);
    fine_step<KIND>(p, z, e, &f);
    *pf = path_payoff<KIND>(p, f, p.grow_f);
    *pc = 0.0;
    return;
  }
  for (unsigned long long g = 0; g < p.coarse_steps; ++g) coupled_step<KIND>(p, g, key, rng, &f, &c);
  *pf = path_payoff<KIND>(p, f, p.grow_f);
  *pc = path_payoff<KIND>(p, c, p.grow_c);
}

#ifndef PATH_PAYOFFS_HOST_ONLY
// Sums of Y = Pf - Pc, Y^2, Y^3, Y^4, Pf, Pf^2 of n samples, one row per block.
template <int KIND>
__device__ __forceinline__ void path_level(const PathParams &p, unsigned int level,
                                           unsigned long long n, const RoundKeys &key,
                                           unsigned long long batch, double *partials) {
  double acc[N_OUT] = {0.0, 0.0, 0.0, 0.0, 0.0, 0.0};
  const unsigned long long stride = (unsigned long long)gridDim.x * THREADS;
  for (unsigned long long i = (unsigned long long)blockIdx.x * THREADS + threadIdx.x; i < n;
       i += stride) {
    SampleStream<extra_of(KIND)> rng(level, batch, i);
    double pf, pc;
    coupled_sample<KIND>(p, key, rng, &pf, &pc);
    accumulate(acc, pf - pc, pf);
  }
  block_reduce_store(acc, partials + (size_t)blockIdx.x * N_OUT);
}

#define PATH_PARAMS_ARGS                                                                        \
  double S0, double K, double sigma, double T, double h, double H, double sqrt_h, double i_scale, \
      double grow_f, double grow_c, double half_s2, double discount, double param, int M,       \
      unsigned long long coarse_steps

// At least 3 resident blocks per SM: at most 80 registers. Without the hint ptxas aims at
// 64 registers (4 blocks) and spills; with it all five kernels fit in 61-79, no spills.
#define PATH_MIN_BLOCKS 3

// One kernel per payoff; the arguments are PathParams' fields in order, then the launch.
#define PATH_KERNEL(name, KIND)                                                                 \
  extern "C" __global__ void __launch_bounds__(THREADS, PATH_MIN_BLOCKS)                        \
      name(PATH_PARAMS_ARGS, unsigned int level, unsigned long long n, RoundKeys key,          \
           unsigned long long batch, double *partials) {                                        \
    const PathParams p{S0, K, sigma, T, h, H, sqrt_h, i_scale, grow_f, grow_c, half_s2,         \
                       discount, param, M, coarse_steps};                                       \
    path_level<KIND>(p, level, n, key, batch, partials);                                       \
  }

PATH_KERNEL(path_asian_arithmetic, ASIAN_ARITHMETIC)
PATH_KERNEL(path_asian_geometric, ASIAN_GEOMETRIC)
PATH_KERNEL(path_lookback, LOOKBACK)
PATH_KERNEL(path_digital, DIGITAL)
PATH_KERNEL(path_barrier, BARRIER)
#endif
