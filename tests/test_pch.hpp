// Precompiled header of the test binary. Debian's LibTorch pulls in glog, whose CHECK macro
// collides with Catch2's: include torch first, drop glog's CHECK, then Catch2.
#pragma once
#include <torch/torch.h>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <Eigen/Dense>
#include <fmt/format.h>
#include <filesystem>
#include <string>
#include <vector>
#include "catch_torch.hpp"
