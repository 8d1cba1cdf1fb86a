#include "common/large_vector.h"

#include <sys/mman.h>

#include <cstdint>

namespace weir {
namespace {

constexpr std::size_t kHugePage = std::size_t{2} << 20;

std::size_t Rounded(std::size_t bytes) { return (bytes + kHugePage - 1) / kHugePage * kHugePage; }

}  // namespace

void* AllocateHugePages(std::size_t bytes) {
  const std::size_t size = Rounded(bytes);
  if (size < bytes) throw std::bad_alloc();
  // Mapped with a huge page to spare, then trimmed to a 2 MiB boundary at both ends.
  void* mapped =
      mmap(nullptr, size + kHugePage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mapped == MAP_FAILED) throw std::bad_alloc();
  const auto start = reinterpret_cast<std::uintptr_t>(mapped);
  const std::uintptr_t aligned = (start + kHugePage - 1) / kHugePage * kHugePage;
  if (aligned > start) munmap(mapped, aligned - start);
  if (const std::size_t tail = kHugePage - (aligned - start); tail > 0) {
    munmap(reinterpret_cast<void*>(aligned + size), tail);
  }
  madvise(reinterpret_cast<void*>(aligned), size, MADV_HUGEPAGE);  // advice: failing is harmless
  return reinterpret_cast<void*>(aligned);
}

void FreeHugePages(void* memory, std::size_t bytes) {
  if (memory != nullptr) munmap(memory, Rounded(bytes));
}

}  // namespace weir
