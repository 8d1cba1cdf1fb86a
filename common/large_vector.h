// Large arrays in transparent huge pages. A process that fills a few hundred MiB of fresh memory
// (the `feature` kind's columns of a million events) otherwise takes one page fault per 4 KiB it
// touches, and in a virtual machine a fault costs microseconds: a third of that task's time went
// to them. An allocation of 2 MiB or more is mapped on a 2 MiB boundary and marked
// MADV_HUGEPAGE, so the kernel can back it with 2 MiB pages (when transparent huge pages are
// `always` or `madvise`; with `never` this is an ordinary mapping). Smaller ones use `new`.
//
//   LargeVector<std::int64_t> times;   // a std::vector with this allocator
#ifndef WEIR_COMMON_LARGE_VECTOR_H_
#define WEIR_COMMON_LARGE_VECTOR_H_

#include <cstddef>
#include <new>
#include <vector>

namespace weir {

// At least `bytes` of zero-filled memory aligned to 2 MiB, or std::bad_alloc.
void* AllocateHugePages(std::size_t bytes);
void FreeHugePages(void* memory, std::size_t bytes);

template <typename T>
class HugePageAllocator {
 public:
  using value_type = T;
  static constexpr std::size_t kThreshold = std::size_t{2} << 20;

  HugePageAllocator() = default;
  template <typename U>
  HugePageAllocator(const HugePageAllocator<U>&) noexcept {}

  T* allocate(std::size_t n) {
    if (n > static_cast<std::size_t>(-1) / sizeof(T)) throw std::bad_array_new_length();
    if (n * sizeof(T) < kThreshold) return static_cast<T*>(::operator new(n * sizeof(T)));
    return static_cast<T*>(AllocateHugePages(n * sizeof(T)));
  }
  void deallocate(T* p, std::size_t n) noexcept {
    if (n * sizeof(T) < kThreshold) {
      ::operator delete(p);
    } else {
      FreeHugePages(p, n * sizeof(T));
    }
  }
  template <typename U>
  bool operator==(const HugePageAllocator<U>&) const noexcept {
    return true;
  }
};

template <typename T>
using LargeVector = std::vector<T, HugePageAllocator<T>>;

}  // namespace weir

#endif  // WEIR_COMMON_LARGE_VECTOR_H_
