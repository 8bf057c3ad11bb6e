// SIMD for the fused attention kernel, written with GCC/Clang vector extensions over W float
// lanes, so one source serves every instruction set. Only attention_tiles.h includes it, inside
// its instruction-set region; internal linkage, as there.
#pragma once

#include <c10/util/BFloat16.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <utility>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#define HFCPP_ALWAYS_INLINE inline __attribute__((always_inline))

namespace hfcpp::nn::detail {
namespace {

// Vector types per lane count (GCC ignores a vector_size that depends on a template argument,
// hence one specialisation per width).
template <int W> struct Simd;
template <> struct Simd<4> {
  typedef float Float __attribute__((vector_size(16)));
  typedef std::int32_t Int __attribute__((vector_size(16)));
  typedef std::uint16_t Half __attribute__((vector_size(8)));
};
template <> struct Simd<8> {
  typedef float Float __attribute__((vector_size(32)));
  typedef std::int32_t Int __attribute__((vector_size(32)));
  typedef std::uint16_t Half __attribute__((vector_size(16)));
};
template <> struct Simd<16> {
  typedef float Float __attribute__((vector_size(64)));
  typedef std::int32_t Int __attribute__((vector_size(64)));
  typedef std::uint16_t Half __attribute__((vector_size(32)));
};
template <int W> using FloatVec = typename Simd<W>::Float;
template <int W> using IntVec = typename Simd<W>::Int;

constexpr float kLowest = std::numeric_limits<float>::lowest();  // finfo(float32).min
constexpr float kMinusInf = -std::numeric_limits<float>::infinity();

template <int W> HFCPP_ALWAYS_INLINE FloatVec<W> load(const float* p) {
  FloatVec<W> v;
  std::memcpy(&v, p, sizeof v);  // unaligned load
  return v;
}

template <int W> HFCPP_ALWAYS_INLINE IntVec<W> load_int(const std::int32_t* p) {
  IntVec<W> v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

template <int W> HFCPP_ALWAYS_INLINE void store(float* p, FloatVec<W> v) { std::memcpy(p, &v, sizeof v); }

// x - 0 is x exactly (-0 included), so this folds to one broadcast; a loop over the lanes
// compiles to one masked insert per lane.
template <int W> HFCPP_ALWAYS_INLINE FloatVec<W> broadcast(float x) { return x - FloatVec<W>{}; }

template <int W> HFCPP_ALWAYS_INLINE FloatVec<W> max(FloatVec<W> a, FloatVec<W> b) { return a > b ? a : b; }

// bfloat16 is the upper half of a float32: widening is a shift. GCC turns the portable form into
// a shuffle sequence on x86, hence the intrinsics there.
template <int W> HFCPP_ALWAYS_INLINE FloatVec<W> load_bf16(const c10::BFloat16* p) {
  IntVec<W> bits;
#if defined(__x86_64__)
  if constexpr (W == 16) {
    // The zero-masking form: GCC 12 warns about the undefined source of the plain one.
    const __m512i wide = _mm512_maskz_cvtepu16_epi32(0xFFFF, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
    std::memcpy(&bits, &wide, sizeof bits);
    bits <<= 16;
  } else if constexpr (W == 8) {
    const __m256i wide = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    std::memcpy(&bits, &wide, sizeof bits);
    bits <<= 16;
  } else
#endif
  {
    typename Simd<W>::Half half;
    std::memcpy(&half, p, sizeof half);
    bits = __builtin_convertvector(half, IntVec<W>) << 16;
  }
  FloatVec<W> v;
  std::memcpy(&v, &bits, sizeof v);
  return v;
}

// W lanes of a float32 or bfloat16 row.
template <int W> HFCPP_ALWAYS_INLINE FloatVec<W> load_lanes(const float* p) { return load<W>(p); }
template <int W> HFCPP_ALWAYS_INLINE FloatVec<W> load_lanes(const c10::BFloat16* p) { return load_bf16<W>(p); }

HFCPP_ALWAYS_INLINE float to_float(float x) { return x; }
HFCPP_ALWAYS_INLINE float to_float(c10::BFloat16 x) { return static_cast<float>(x); }

// Sum / max of the lanes by halving, so a reduction costs log2(W) vector steps.
template <int W> HFCPP_ALWAYS_INLINE float sum_lanes(FloatVec<W> v) {
  if constexpr (W == 4) {
    return (v[0] + v[2]) + (v[1] + v[3]);
  } else {
    FloatVec<W / 2> low, high;
    std::memcpy(&low, &v, sizeof low);
    std::memcpy(&high, reinterpret_cast<const char*>(&v) + sizeof low, sizeof high);
    return sum_lanes<W / 2>(low + high);
  }
}

template <int W> HFCPP_ALWAYS_INLINE float max_lanes(FloatVec<W> v) {
  if constexpr (W == 4) {
    return std::max(std::max(v[0], v[1]), std::max(v[2], v[3]));
  } else {
    FloatVec<W / 2> low, high;
    std::memcpy(&low, &v, sizeof low);
    std::memcpy(&high, reinterpret_cast<const char*>(&v) + sizeof low, sizeof high);
    return max_lanes<W / 2>(max<W / 2>(low, high));
  }
}

// Lane j of the result: lane j % half of group j / half of concat(x, y) (groups of 2 * half lanes)
// plus the lane `half` above it, i.e. every group of x and y summed down to half its width.
template <int W, int Half, std::size_t... Lane>
HFCPP_ALWAYS_INLINE FloatVec<W> fold_groups(FloatVec<W> x, FloatVec<W> y, std::index_sequence<Lane...>) {
  return __builtin_shufflevector(x, y, (Lane / Half * 2 * Half + Lane % Half)...) +
         __builtin_shufflevector(x, y, (Lane / Half * 2 * Half + Half + Lane % Half)...);
}

template <int W, int Half> HFCPP_ALWAYS_INLINE void fold_level(FloatVec<W>* v) {
  for (int i = 0; i < Half; ++i) v[i] = fold_groups<W, Half>(v[2 * i], v[2 * i + 1], std::make_index_sequence<W>{});
  if constexpr (Half > 1) fold_level<W, Half / 2>(v);
}

// Lane i of the result is the sum of the lanes of v[i] (v is consumed): W dot products finish
// with W - 1 additions and twice as many shuffles instead of W separate horizontal sums.
template <int W> HFCPP_ALWAYS_INLINE FloatVec<W> sum_lanes_of_each(FloatVec<W>* v) {
  fold_level<W, W / 2>(v);
  return v[0];
}

// e^x for x <= 0 (softmax after subtracting the row maximum), -inf -> 0. Range reduction
// x = n ln2 + r with |r| <= ln2 / 2 and a degree-6 Taylor polynomial: about 1 ulp, and 0 where
// the result would be subnormal (< 1.2e-38, far below anything a softmax row sum notices).
template <int W> HFCPP_ALWAYS_INLINE FloatVec<W> exp_nonpositive(FloatVec<W> x) {
  constexpr float kMinExponent = -87.33654f;  // ln(FLT_MIN)
  constexpr float kRoundMagic = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
  const IntVec<W> underflow = x < kMinExponent;
  x = underflow ? broadcast<W>(kMinExponent) : x;
  const FloatVec<W> shifted = x * 1.44269504f + kRoundMagic;
  const FloatVec<W> n = shifted - kRoundMagic;
  FloatVec<W> r = x - n * 0.693359375f;  // ln2 split in two so n * ln2 is exact
  r = r + n * 2.12194440e-4f;
  FloatVec<W> poly = broadcast<W>(1.0f / 720.0f);
  poly = poly * r + 1.0f / 120.0f;
  poly = poly * r + 1.0f / 24.0f;
  poly = poly * r + 1.0f / 6.0f;
  poly = poly * r + 0.5f;
  poly = poly * r + 1.0f;
  poly = poly * r + 1.0f;
  const IntVec<W> exponent = (__builtin_convertvector(n, IntVec<W>) + 127) << 23;
  FloatVec<W> power_of_two;
  std::memcpy(&power_of_two, &exponent, sizeof power_of_two);
  return underflow ? FloatVec<W>{} : poly * power_of_two;
}

}  // namespace
}  // namespace hfcpp::nn::detail
