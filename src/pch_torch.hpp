// Precompiled header of the layers that use LibTorch (model, runtime, train, bench): torch is
// the slow part, parsed once.
#pragma once
#include <torch/torch.h>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <Eigen/Dense>
#include <fmt/format.h>
#include <yaml-cpp/yaml.h>
#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>
