// Plots rendered by gnuplot (pngcairo). Every plot X.png is written with its data X.csv and its
// script X.gp beside it, so a user can restyle and replot: `cd DIR && gnuplot X.gp`. The PNG is
// written atomically (gnuplot draws into a temporary name, renamed when it succeeds).
//
// gnuplot is found on PATH (Debian: apt-get install gnuplot-nox); the environment variable
// FACEID_GNUPLOT names another executable. When it is missing or fails, the plot functions throw
// Errc::io naming the script; the CSV and the script are already written then.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "faceid/eval/metrics.hpp"

namespace faceid {

struct PlotFiles {
  std::filesystem::path png;
  std::filesystem::path csv;
  std::filesystem::path script;
};

// One named curve of a ROC or DET plot (e.g. one model, one epoch, adaptive on/off).
struct CurveSeries {
  std::string label;
  std::vector<RocPoint> points;  // from ExactRoc::curve or HistogramAccumulator::curve
};

// TAR against FAR, FAR on a log axis. CSV columns: series,threshold,far,tar,frr.
PlotFiles plot_roc(const std::filesystem::path& png, const std::vector<CurveSeries>& series,
                   const std::string& title);

// DET: FRR against FAR, both on probit (normal-deviate) axes labelled in percent, as NIST draws
// them. Same CSV columns as the ROC.
PlotFiles plot_det(const std::filesystem::path& png, const std::vector<CurveSeries>& series,
                   const std::string& title);

// Genuine and impostor distance histograms (fractions of each class), with a vertical line at
// `threshold` when given. CSV columns: bin_lo,bin_hi,genuine_fraction,impostor_fraction.
PlotFiles plot_distance_histogram(const std::filesystem::path& png, const DistanceHistogram& hist,
                                  const std::string& title,
                                  std::optional<double> threshold = std::nullopt,
                                  bool log_y = false);

// One named line of a generic x-y plot (training curves and the like).
struct LineSeries {
  std::string label;
  std::vector<double> x;
  std::vector<double> y;
};

struct LinePlotOptions {
  std::string title;
  std::string x_label;
  std::string y_label;
  bool log_y = false;
};

// Lines through the points of each series. CSV columns: series,x,y.
PlotFiles plot_lines(const std::filesystem::path& png, const std::vector<LineSeries>& series,
                     const LinePlotOptions& options);

// The building block of every plot here: writes `csv` to X.csv and a script to X.gp (the header
// that selects pngcairo, the output and the CSV separator, then `body`, which reads the data as
// 'X.csv'), then renders X.png. `body` may use the gnuplot variable `datafile`.
PlotFiles render_plot(const std::filesystem::path& png, const std::string& csv,
                      const std::string& body, int width = 900, int height = 650);

// A gnuplot string of `text`: '...' with ' doubled; a newline becomes '...'."\n".'...'.
std::string gnuplot_quote(const std::string& text);

// A CSV field: `text` as is, or double-quoted (quotes doubled) when it holds , " or a newline.
std::string csv_field(const std::string& text);

}  // namespace faceid
