// Philox4x32-10 normals for the mlmc_hpc kernels (device functions only).
// Prepended to the kernel files at compile time; also compiled on the host by the tests
// (with __device__, __umulhi and __hiloint2double defined there) to check it against
// mlmc_hpc/models/philox.py.

struct Philox4 {
  unsigned int x, y, z, w;
};

// The ten round keys of a 64-bit seed, built once on the host (philox.round_keys) and
// passed by value: the kernels read them from the parameter bank instead of adding the
// Weyl constants in every call.
struct RoundKeys {
  unsigned int k0[10];
  unsigned int k1[10];
};

__device__ __forceinline__ Philox4 philox4x32_10(Philox4 c, const RoundKeys &key) {
#pragma unroll
  for (int round = 0; round < 10; ++round) {
    const unsigned int lo0 = 0xD2511F53u * c.x, hi0 = __umulhi(0xD2511F53u, c.x);
    const unsigned int lo1 = 0xCD9E8D57u * c.z, hi1 = __umulhi(0xCD9E8D57u, c.z);
    c = Philox4{hi1 ^ c.y ^ key.k0[round], lo1, hi0 ^ c.w ^ key.k1[round], lo0};
  }
  return c;
}

// A uniform in (0, 1] from 52 bits (hi, then the top 20 of lo) built directly into the
// mantissa of x in [1, 2): u = 2 - x = (2^52 - bits) 2^-52, exact, smallest 2^-52.
__device__ __forceinline__ double uniform52(unsigned int hi, unsigned int lo) {
  return 2.0 - __hiloint2double((int)(0x3FF00000u | (hi >> 12)), (int)((hi << 20) | (lo >> 12)));
}

// Two independent standard normals from one Philox call (Box-Muller).
__device__ __forceinline__ void normal_pair(Philox4 counter, const RoundKeys &key, double *z0,
                                            double *z1) {
  const Philox4 r = philox4x32_10(counter, key);
  const double radius = sqrt(-2.0 * log(uniform52(r.x, r.y)));
  double s, c;
  sincospi(2.0 * uniform52(r.z, r.w), &s, &c);
  *z0 = radius * c;
  *z1 = radius * s;
}

__device__ __forceinline__ unsigned int tag_word(unsigned int level, unsigned long long batch,
                                                 unsigned long long sample,
                                                 unsigned long long pair) {
  return (level & 0xFFu) | (unsigned int)((batch >> 32) & 0xFFu) << 8 |
         (unsigned int)((sample >> 32) & 0xFFu) << 16 | (unsigned int)((pair >> 32) & 0xFFu) << 24;
}
