// Memory of CPU tensors. libtorch's default CPU allocator passes every tensor to malloc and back.
// glibc returns large freed blocks to the kernel (munmap, heap trimming), so each forward pass
// faults its activations in again: on this project's VM a fresh page costs ~10 us (0.3 GB/s), and
// half of a BERT-base batch-8 forward was page faults. hfcpp's caching allocator keeps freed
// blocks of 64 KiB and more for the next tensor of the same size class, as the CUDA caching
// allocator does on GPUs; smaller tensors still go to libtorch's allocator.
//
// from_pretrained(), from_config() and generate() call configure_cpu_allocator(); programs that
// only use libtorch may call it themselves.
#pragma once

#include <cstdint>

namespace hfcpp {

struct CpuCacheStats {
  bool installed = false;          // the caching allocator is libtorch's CPU allocator
  std::uint64_t in_use_bytes = 0;  // blocks held by live tensors (size classes, not requests)
  std::uint64_t cached_bytes = 0;  // freed blocks kept for reuse
  std::uint64_t limit_bytes = 0;   // cached_bytes never exceeds this
  std::uint64_t hits = 0;          // allocations served from the cache
  std::uint64_t misses = 0;        // allocations that asked the system for memory
};

// Installs the caching allocator as libtorch's CPU allocator, once per process, and returns
// whether it is in force. Tensors allocated before keep their own deleters. Environment:
//   HFCPP_CPU_ALLOCATOR=libtorch    keep libtorch's allocator (nothing is installed);
//   HFCPP_CPU_CACHE_LIMIT=SIZE      most idle bytes kept ("2GB", "512MiB", "0" = keep none);
//                                   default: an eighth of physical memory.
// Blocks of 2 MiB and more are mapped at 2 MiB boundaries with MADV_HUGEPAGE.
bool configure_cpu_allocator();

// Most idle bytes the cache keeps; lowering it releases idle blocks at once.
void set_cpu_cache_limit(std::uint64_t bytes);

// Returns every idle block to the system (tensors alive keep theirs).
void empty_cpu_cache();

CpuCacheStats cpu_cache_stats();

}  // namespace hfcpp
