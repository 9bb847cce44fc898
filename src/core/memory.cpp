#include "faceid/core/memory.hpp"

#include <malloc.h>

#include <climits>

namespace faceid {

bool keep_freed_memory_in_heap() {
  return mallopt(M_MMAP_MAX, 0) == 1 && mallopt(M_TRIM_THRESHOLD, INT_MAX) == 1;
}

}  // namespace faceid
