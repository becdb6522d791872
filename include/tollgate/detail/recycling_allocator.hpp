// SPDX-License-Identifier: MIT
// recycling_allocator: hands each thread's freed blocks of one size back to it, so a per-request allocation costs no malloc.
#ifndef TOLLGATE_DETAIL_RECYCLING_ALLOCATOR_HPP
#define TOLLGATE_DETAIL_RECYCLING_ALLOCATOR_HPP

#include <cstddef>
#include <new>

namespace tollgate::detail {

/// An allocator for single objects (what std::allocate_shared asks for) that keeps up to 64 freed
/// blocks per thread and type, and serves the next allocation from them. A block freed on another
/// thread joins that thread's list; beyond 64 it goes back to the heap, so memory stays bounded.
template <class T>
struct recycling_allocator {
  using value_type = T;

  recycling_allocator() noexcept = default;
  template <class U>
  recycling_allocator(const recycling_allocator<U>&) noexcept {}  // NOLINT: rebinding is implicit by design

  T* allocate(std::size_t n) {
    if (n != 1) return static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t{alignof(T)}));
    free_list& list = cache();
    if (list.head != nullptr) {
      node* block = list.head;
      list.head = block->next;
      --list.count;
      return reinterpret_cast<T*>(block);
    }
    return static_cast<T*>(::operator new(block_size, std::align_val_t{block_align}));
  }

  void deallocate(T* p, std::size_t n) noexcept {
    if (n != 1) return ::operator delete(p, std::align_val_t{alignof(T)});
    free_list& list = cache();
    if (list.count >= 64) return ::operator delete(p, std::align_val_t{block_align});
    node* block = reinterpret_cast<node*>(p);
    block->next = list.head;
    list.head = block;
    ++list.count;
  }

  template <class U>
  friend bool operator==(const recycling_allocator&, const recycling_allocator<U>&) noexcept { return true; }

 private:
  struct node {
    node* next;
  };
  static constexpr std::size_t block_size = sizeof(T) < sizeof(node) ? sizeof(node) : sizeof(T);
  static constexpr std::size_t block_align = alignof(T) < alignof(node) ? alignof(node) : alignof(T);

  struct free_list {
    node* head = nullptr;
    std::size_t count = 0;
    ~free_list() {
      while (head != nullptr) {
        node* next = head->next;
        ::operator delete(static_cast<void*>(head), std::align_val_t{block_align});
        head = next;
      }
    }
  };
  static free_list& cache() noexcept {
    thread_local free_list list;
    return list;
  }
};

}  // namespace tollgate::detail

#endif  // TOLLGATE_DETAIL_RECYCLING_ALLOCATOR_HPP
