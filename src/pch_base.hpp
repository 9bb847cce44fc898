// Precompiled header of the torch-free layers (core, io, preprocess, data, eval, synth): no
// LibTorch header may reach them.
#pragma once
#include <Eigen/Dense>
#include <fmt/format.h>
#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>
