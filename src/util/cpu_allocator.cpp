#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>
#include <c10/util/Exception.h>
#include <sys/mman.h>
#include <torch/version.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "hfcpp/cpu_memory.h"
#include "hfcpp/dtype.h"
#include "hfcpp/error.h"
#include "hfcpp/logging.h"
#include "huge_pages.h"

// libtorch 2.3 made Allocator::allocate non-const and copy_data pure virtual.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 3)
#define HFCPP_ALLOCATE_CONST
#define HFCPP_ALLOCATOR_HAS_COPY_DATA 1
#else
#define HFCPP_ALLOCATE_CONST const
#define HFCPP_ALLOCATOR_HAS_COPY_DATA 0
#endif

namespace hfcpp {
namespace {

constexpr std::size_t kSmallestCachedBytes = std::size_t{64} << 10;

// Eight classes per power of two: a block is at most 12.5% larger than the request, and a tensor
// that grows a little each step (a dynamic KV cache) keeps landing in the same class.
std::size_t size_class(std::size_t bytes) {
  const int log2 = 63 - __builtin_clzll(bytes);
  const std::size_t step = std::size_t{1} << (log2 - 3);
  return (bytes + step - 1) / step * step;
}

void* system_allocate(std::size_t bytes) {
  if (bytes >= detail::kHugePageBytes) {
    void* p = detail::map_at_huge_page_boundary(bytes, -1);
    return p == MAP_FAILED ? nullptr : p;
  }
  return std::aligned_alloc(64, bytes);  // classes under 2 MiB are multiples of 8 KiB
}

void system_free(void* p, std::size_t bytes) {
  if (bytes >= detail::kHugePageBytes) ::munmap(p, bytes);
  else std::free(p);
}

std::uint64_t default_limit() {
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
  const std::uint64_t physical = pages > 0 && page > 0 ? std::uint64_t(pages) * std::uint64_t(page) : 0;
  return std::max<std::uint64_t>(physical / 8, std::uint64_t{256} << 20);
}

// Idle blocks by size class, and the class of every block a live tensor holds.
class BlockPool {
 public:
  explicit BlockPool(std::uint64_t limit) : limit_(limit) {}

  void* allocate(std::size_t block) {
    void* p = take_idle(block);
    const bool hit = p != nullptr;
    if (!hit) p = system_allocate(block);
    if (p == nullptr) {  // the idle blocks may be what the system is missing
      empty();
      p = system_allocate(block);
    }
    TORCH_CHECK(p != nullptr, "hfcpp's CPU allocator: cannot allocate ", block, " bytes: ", std::strerror(errno));
    std::lock_guard lock(mutex_);
    in_use_ += block;
    ++(hit ? hits_ : misses_);
    live_.emplace(p, block);
    return p;
  }

  // Keeps or frees a block of this pool; false when p is not one.
  bool give_back(void* p) {
    std::unique_lock lock(mutex_);
    const auto found = live_.find(p);
    if (found == live_.end()) return false;
    const std::size_t block = found->second;
    live_.erase(found);
    in_use_ -= block;
    if (cached_ + block <= limit_) {
      idle_[block].push_back(p);
      cached_ += block;
      return true;
    }
    lock.unlock();
    system_free(p, block);
    return true;
  }

  void set_limit(std::uint64_t bytes) {
    std::unique_lock lock(mutex_);
    limit_ = bytes;
    evict_down_to(limit_, lock);
  }

  void empty() {
    std::unique_lock lock(mutex_);
    evict_down_to(0, lock);
  }

  CpuCacheStats stats() const {
    std::lock_guard lock(mutex_);
    return {true, in_use_, cached_, limit_, hits_, misses_};
  }

 private:
  // An idle block of the class, off the idle list, or null.
  void* take_idle(std::size_t block) {
    std::lock_guard lock(mutex_);
    const auto found = idle_.find(block);
    if (found == idle_.end() || found->second.empty()) return nullptr;
    void* p = found->second.back();  // the most recently freed block is likeliest still in cache
    found->second.pop_back();
    cached_ -= block;
    return p;
  }

  // Frees idle blocks, largest classes first, until at most `target` bytes stay cached.
  void evict_down_to(std::uint64_t target, std::unique_lock<std::mutex>& lock) {
    std::vector<std::pair<void*, std::size_t>> freed;
    for (auto it = idle_.rbegin(); it != idle_.rend(); ++it) {
      auto& [block, blocks] = *it;
      while (cached_ > target && !blocks.empty()) {
        freed.emplace_back(blocks.back(), block);
        blocks.pop_back();
        cached_ -= block;
      }
    }
    lock.unlock();  // munmap outside the lock
    for (const auto& [p, block] : freed) system_free(p, block);
    lock.lock();
  }

  mutable std::mutex mutex_;
  std::unordered_map<void*, std::size_t> live_;                 // block -> class bytes
  std::map<std::size_t, std::vector<void*>> idle_;            // class bytes -> blocks, by size
  std::uint64_t in_use_ = 0, cached_ = 0, hits_ = 0, misses_ = 0;
  std::uint64_t limit_;
};

// libtorch's CPU allocator interface over the pool; tensors under 64 KiB go to the allocator that
// was in force before (libtorch's, which serves them from malloc's arenas without faults).
class CachingCpuAllocator final : public c10::Allocator {
 public:
  CachingCpuAllocator(c10::Allocator* small, std::uint64_t limit) : small_(small), pool_(new BlockPool(limit)) {}

  c10::DataPtr allocate(std::size_t bytes) HFCPP_ALLOCATE_CONST override {
    if (bytes < kSmallestCachedBytes) return small_->allocate(bytes);
    void* p = pool_->allocate(size_class(bytes));
    return {p, p, &release, c10::Device(c10::DeviceType::CPU)};
  }

  // raw_allocate / raw_deallocate need one deleter for both kinds of block.
  c10::DeleterFnPtr raw_deleter() const override { return &release; }

#if HFCPP_ALLOCATOR_HAS_COPY_DATA
  void copy_data(void* dest, const void* src, std::size_t count) const override { default_copy_data(dest, src, count); }
#endif

  BlockPool& pool() { return *pool_; }

 private:
  static void release(void* p);

  c10::Allocator* small_;
  BlockPool* pool_;  // never freed, like the allocator: tensors may outlive static objects
};

std::atomic<CachingCpuAllocator*> the_allocator{nullptr};

void CachingCpuAllocator::release(void* p) {
  if (p == nullptr) return;
  CachingCpuAllocator* self = the_allocator.load();
  if (!self->pool_->give_back(p)) self->small_->raw_deleter()(p);  // a small block, via raw_deallocate
}

std::uint64_t limit_from_environment() {
  const char* text = std::getenv("HFCPP_CPU_CACHE_LIMIT");
  if (text == nullptr || *text == '\0') return default_limit();
  try {
    return parse_size(text);
  } catch (const ValueError& e) {
    throw ValueError(std::string("HFCPP_CPU_CACHE_LIMIT='") + text + "': " + e.what());
  }
}

void install() {
  const std::string choice = std::getenv("HFCPP_CPU_ALLOCATOR") != nullptr ? std::getenv("HFCPP_CPU_ALLOCATOR") : "";
  if (choice == "libtorch") {
    logging::debug("CPU allocator: libtorch's (HFCPP_CPU_ALLOCATOR=libtorch)");
    return;
  }
  if (!choice.empty() && choice != "caching")
    throw ValueError("HFCPP_CPU_ALLOCATOR='" + choice + "': expected 'caching' (the default) or 'libtorch'");
  auto* allocator = new CachingCpuAllocator(c10::GetCPUAllocator(), limit_from_environment());
  the_allocator.store(allocator);
  c10::SetCPUAllocator(allocator, /*priority=*/0);
  // A program may have installed its own allocator with a higher priority; it stays.
  logging::debug(c10::GetCPUAllocator() == allocator
                     ? "CPU allocator: hfcpp's caching allocator"
                     : "CPU allocator: another allocator with a higher priority is installed; kept");
}

bool installed() {
  CachingCpuAllocator* allocator = the_allocator.load();
  return allocator != nullptr && c10::GetCPUAllocator() == allocator;
}

}  // namespace

bool configure_cpu_allocator() {
  static std::once_flag once;
  std::call_once(once, install);
  return installed();
}

void set_cpu_cache_limit(std::uint64_t bytes) {
  if (CachingCpuAllocator* allocator = the_allocator.load()) allocator->pool().set_limit(bytes);
}

void empty_cpu_cache() {
  if (CachingCpuAllocator* allocator = the_allocator.load()) allocator->pool().empty();
}

CpuCacheStats cpu_cache_stats() {
  CachingCpuAllocator* allocator = the_allocator.load();
  if (allocator == nullptr) return {};
  CpuCacheStats stats = allocator->pool().stats();
  stats.installed = installed();
  return stats;
}

}  // namespace hfcpp
