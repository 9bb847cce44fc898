// Precompiled header of the faceid library: the expensive system headers, parsed once.
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
