// Philox4x32-10 normals for the mlmc_hpc kernels (device functions only).
// Prepended to milstein_gbm.cu at compile time; also compiled on the host by the tests
// (with __device__ and __umulhi defined away) to check it against mlmc_hpc/philox.py.

struct Philox4 {
  unsigned int x, y, z, w;
};

__device__ __forceinline__ Philox4 philox4x32_10(Philox4 c, unsigned int k0, unsigned int k1) {
#pragma unroll
  for (int round = 0; round < 10; ++round) {
    const unsigned int lo0 = 0xD2511F53u * c.x, hi0 = __umulhi(0xD2511F53u, c.x);
    const unsigned int lo1 = 0xCD9E8D57u * c.z, hi1 = __umulhi(0xCD9E8D57u, c.z);
    c = Philox4{hi1 ^ c.y ^ k0, lo1, hi0 ^ c.w ^ k1, lo0};
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  return c;
}

__device__ __forceinline__ double uniform53(unsigned int hi, unsigned int lo) {
  const unsigned long long bits = ((unsigned long long)hi << 21) ^ (lo >> 11);  // 53 bits
  return ((double)bits + 0.5) * 1.1102230246251565e-16;                        // (0, 1)
}

// Two independent standard normals from one Philox call (Box-Muller).
__device__ __forceinline__ void normal_pair(Philox4 counter, unsigned int k0, unsigned int k1,
                                            double *z0, double *z1) {
  const Philox4 r = philox4x32_10(counter, k0, k1);
  const double radius = sqrt(-2.0 * log(uniform53(r.x, r.y)));
  double s, c;
  sincospi(2.0 * uniform53(r.z, r.w), &s, &c);
  *z0 = radius * c;
  *z1 = radius * s;
}

__device__ __forceinline__ unsigned int tag_word(unsigned int level, unsigned long long batch,
                                                 unsigned long long sample,
                                                 unsigned long long pair) {
  return (level & 0xFFu) | (unsigned int)((batch >> 32) & 0xFFu) << 8 |
         (unsigned int)((sample >> 32) & 0xFFu) << 16 | (unsigned int)((pair >> 32) & 0xFFu) << 24;
}

