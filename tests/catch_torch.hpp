// Catch2 for test files that use LibTorch. Debian's LibTorch pulls in glog, whose one-argument
// CHECK macro collides with Catch2's: include torch first, drop glog's CHECK, then Catch2. Test
// files without torch include <catch2/catch.hpp> directly.
#pragma once
#include <torch/torch.h>
#undef CHECK
#include <catch2/catch.hpp>
