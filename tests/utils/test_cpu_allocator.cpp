// hfcpp's caching CPU allocator (hfcpp/cpu_memory.h): freed blocks come back for the next tensor of
// their size class, small tensors stay with libtorch's allocator, the limit and empty_cpu_cache
// give memory back, and the environment chooses or refuses the allocator.
#include <ATen/ATen.h>
#include <c10/core/CPUAllocator.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>

#include "hfcpp/cpu_memory.h"
#include "hfcpp/error.h"

namespace hfcpp {
namespace {

constexpr std::int64_t kMiB = 1 << 20;

at::Tensor bytes(std::int64_t n) { return at::empty({n}, at::kByte); }

class CpuAllocator : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(configure_cpu_allocator());
    set_cpu_cache_limit(std::uint64_t{1} << 30);
    empty_cpu_cache();
  }
};

TEST_F(CpuAllocator, AFreedBlockServesTheNextTensorOfItsSizeClass) {
  const CpuCacheStats before = cpu_cache_stats();
  void* first = nullptr;
  {
    at::Tensor t = bytes(4 * kMiB);
    first = t.data_ptr();
    // Blocks of 2 MiB and more sit at 2 MiB boundaries so they can be transparent huge pages.
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(first) % (2 * kMiB), 0u);
    EXPECT_EQ(cpu_cache_stats().in_use_bytes, before.in_use_bytes + 4 * kMiB);
  }
  EXPECT_EQ(cpu_cache_stats().cached_bytes, std::uint64_t(4 * kMiB));
  // 4 MiB - 100 rounds up to the same class (eight classes per power of two: steps of 512 KiB here).
  at::Tensor again = bytes(4 * kMiB - 100);
  EXPECT_EQ(again.data_ptr(), first);
  const CpuCacheStats after = cpu_cache_stats();
  EXPECT_EQ(after.hits, before.hits + 1);
  EXPECT_EQ(after.misses, before.misses + 1);
  EXPECT_EQ(after.cached_bytes, 0u);
  // 4 MiB + 1 is the next class, 4.5 MiB: a new block.
  at::Tensor bigger = bytes(4 * kMiB + 1);
  EXPECT_NE(bigger.data_ptr(), first);
  EXPECT_EQ(cpu_cache_stats().in_use_bytes, before.in_use_bytes + 4 * kMiB + 4 * kMiB + kMiB / 2);
}

TEST_F(CpuAllocator, TensorsUnder64KiBStayWithLibtorchsAllocator) {
  const CpuCacheStats before = cpu_cache_stats();
  at::Tensor small = bytes(64 * 1024 - 1);
  at::Tensor cached = bytes(64 * 1024);
  const CpuCacheStats after = cpu_cache_stats();
  EXPECT_EQ(after.in_use_bytes, before.in_use_bytes + 64 * 1024);
  EXPECT_EQ(after.misses + after.hits, before.misses + before.hits + 1);
}

TEST_F(CpuAllocator, TheLimitAndEmptyGiveIdleBlocksBack) {
  { at::Tensor a = bytes(3 * kMiB), b = bytes(kMiB); }
  EXPECT_EQ(cpu_cache_stats().cached_bytes, std::uint64_t(4 * kMiB));
  set_cpu_cache_limit(2 * kMiB);  // evicts the largest class first: the 3 MiB block goes
  EXPECT_EQ(cpu_cache_stats().cached_bytes, std::uint64_t(kMiB));
  EXPECT_EQ(cpu_cache_stats().limit_bytes, std::uint64_t(2 * kMiB));
  { at::Tensor c = bytes(3 * kMiB); }  // would exceed the limit: freed, not kept
  EXPECT_EQ(cpu_cache_stats().cached_bytes, std::uint64_t(kMiB));
  empty_cpu_cache();
  EXPECT_EQ(cpu_cache_stats().cached_bytes, 0u);
  set_cpu_cache_limit(0);
  { at::Tensor d = bytes(kMiB); }
  EXPECT_EQ(cpu_cache_stats().cached_bytes, 0u);
}

TEST_F(CpuAllocator, RawAllocateAndDeallocateWorkForBothKindsOfBlock) {
  c10::Allocator* allocator = c10::GetCPUAllocator();
  const CpuCacheStats before = cpu_cache_stats();
  void* large = allocator->raw_allocate(2 * kMiB);
  void* small = allocator->raw_allocate(100);
  ASSERT_NE(large, nullptr);
  ASSERT_NE(small, nullptr);
  static_cast<char*>(large)[2 * kMiB - 1] = 1;
  static_cast<char*>(small)[99] = 1;
  EXPECT_EQ(cpu_cache_stats().in_use_bytes, before.in_use_bytes + 2 * kMiB);
  allocator->raw_deallocate(large);
  allocator->raw_deallocate(small);
  EXPECT_EQ(cpu_cache_stats().in_use_bytes, before.in_use_bytes);
  EXPECT_EQ(cpu_cache_stats().cached_bytes, before.cached_bytes + 2 * kMiB);
}

TEST_F(CpuAllocator, ComputationsOnReusedBlocksAreUnchanged) {
  at::manual_seed(0);
  const at::Tensor a = at::randn({512, 512}), b = at::randn({512, 512});
  const at::Tensor expected = at::mm(a, b);
  for (int i = 0; i < 3; ++i) {
    at::Tensor scratch = at::full({512, 512}, 7.0f);  // leaves junk in the block mm gets next
    scratch.reset();
    EXPECT_TRUE(at::equal(at::mm(a, b), expected));
  }
}

// The environment is read once per process, so these run in a fresh copy of this test binary.
class CpuAllocatorEnvironment : public ::testing::Test {
 protected:
  void SetUp() override { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
};

TEST_F(CpuAllocatorEnvironment, LibtorchKeepsLibtorchsAllocator) {
  EXPECT_EXIT(
      {
        setenv("HFCPP_CPU_ALLOCATOR", "libtorch", 1);
        c10::Allocator* before = c10::GetCPUAllocator();
        const bool installed = configure_cpu_allocator();
        std::exit(!installed && !cpu_cache_stats().installed && c10::GetCPUAllocator() == before ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
}

// Sets the variable, configures, and exits with 3 after printing the ValueError (0 without one).
void exit_3_on_value_error(const char* variable, const char* value) {
  setenv(variable, value, 1);
  try {
    configure_cpu_allocator();
  } catch (const ValueError& e) {
    std::fprintf(stderr, "%s\n", e.what());
    std::exit(3);
  }
  std::exit(0);
}

TEST_F(CpuAllocatorEnvironment, CacheLimitIsReadAndBadValuesAreNamed) {
  EXPECT_EXIT(
      {
        setenv("HFCPP_CPU_CACHE_LIMIT", "512MiB", 1);
        std::exit(configure_cpu_allocator() && cpu_cache_stats().limit_bytes == (std::uint64_t{512} << 20) ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
  EXPECT_EXIT(exit_3_on_value_error("HFCPP_CPU_CACHE_LIMIT", "lots"), ::testing::ExitedWithCode(3),
              "HFCPP_CPU_CACHE_LIMIT='lots'");
  EXPECT_EXIT(exit_3_on_value_error("HFCPP_CPU_ALLOCATOR", "jemalloc"), ::testing::ExitedWithCode(3),
              "HFCPP_CPU_ALLOCATOR='jemalloc': expected 'caching'");
}

}  // namespace
}  // namespace hfcpp
