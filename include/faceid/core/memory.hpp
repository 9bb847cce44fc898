// Process-wide memory settings for tensor workloads.
#pragma once

namespace faceid {

// Keeps freed memory in the process heap instead of handing it back to the kernel. glibc serves
// large blocks (every block of 32 MB or more, and smaller ones under its dynamic threshold) with
// mmap and unmaps them on free, so every training step and every embedding pays page faults and
// page zeroing for its activations again: about a quarter of a squeezenet1_1 training step on the
// 2-core machine (docs/benchmarks.md, "Allocator"). This turns off mmap for allocations
// (M_MMAP_MAX = 0) and trimming of the heap top (M_TRIM_THRESHOLD = INT_MAX); the price is that
// the peak working set stays resident. Call once, first thing in main, before any tensor.
// Returns false when the C library refused a setting (nothing else changes then).
bool keep_freed_memory_in_heap();

}  // namespace faceid
