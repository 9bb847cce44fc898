#include "faceid/eval/plot.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <system_error>

#include "faceid/core/error.hpp"
#include "faceid/core/fs.hpp"

extern char** environ;

namespace faceid {
namespace fs = std::filesystem;

namespace {

std::string num(double v) { return fmt::format("{:.9g}", v); }

// Runs gnuplot on `script` (absolute) with the output set to `out` (absolute); cwd = the script's
// folder, so the script reads its CSV by plain name. Throws Errc::io with gnuplot's stderr.
void run_gnuplot(const fs::path& script, const fs::path& out) {
  const char* env = std::getenv("FACEID_GNUPLOT");
  const std::string exe = env != nullptr && *env != '\0' ? env : "gnuplot";
  const std::string setup =
      fmt::format("cd {}; outfile = {}", gnuplot_quote(script.parent_path().string()),
                  gnuplot_quote(out.string()));
  const std::string script_arg = script.string();
  std::vector<char*> argv = {const_cast<char*>(exe.c_str()), const_cast<char*>("-e"),
                             const_cast<char*>(setup.c_str()),
                             const_cast<char*>(script_arg.c_str()), nullptr};
  int err_pipe[2];
  if (::pipe(err_pipe) != 0) {
    throw_io(fmt::format("{}: cannot create a pipe for gnuplot: {}", script.string(),
                         std::strerror(errno)));
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], STDERR_FILENO);
  posix_spawn_file_actions_addclose(&actions, err_pipe[0]);
  posix_spawn_file_actions_addclose(&actions, err_pipe[1]);
  pid_t pid = 0;
  const int spawn_rc = ::posix_spawnp(&pid, exe.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(err_pipe[1]);
  if (spawn_rc != 0) {
    ::close(err_pipe[0]);
    throw_io(fmt::format(
        "cannot run '{}' to render {}: {}. Install gnuplot (Debian: apt-get install gnuplot-nox) "
        "or set FACEID_GNUPLOT; the data and the script are written, replot with: cd {} && "
        "gnuplot {}",
        exe, script.string(), std::strerror(spawn_rc), script.parent_path().string(),
        script.filename().string()));
  }
  std::string errors;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(err_pipe[0], buf, sizeof buf);
    if (n > 0) {
      if (errors.size() < 16384) errors.append(buf, static_cast<size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      break;
    }
  }
  ::close(err_pipe[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) throw_io(fmt::format("{}: waitpid: {}", exe, std::strerror(errno)));
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::error_code ec;
    fs::remove(out, ec);
    const std::string how = WIFEXITED(status) ? fmt::format("exit status {}", WEXITSTATUS(status))
                                              : fmt::format("signal {}", WTERMSIG(status));
    throw_io(fmt::format("gnuplot failed on {} ({}): {}", script.string(), how, errors));
  }
}

// Tick list "('label' value, ...)" of the probit axes, within [lo, hi].
std::string probit_tics(double lo, double hi) {
  static const double kTics[] = {1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 2e-3, 5e-3, 1e-2, 2e-2, 5e-2,
                                 0.1,  0.2,  0.3,  0.4,  0.5,  0.6,  0.8,  0.9,  0.95, 0.99};
  std::string out = "(";
  for (double t : kTics) {
    if (t < lo * 0.999 || t > hi * 1.001) continue;
    if (out.size() > 1) out += ", ";
    out += fmt::format("\"{}%%\" {}", fmt::format("{:g}", t * 100.0), num(t));
  }
  return out + ")";
}

// The decade at or below the smallest positive value of `get` over every point, within
// [floor_value, 0.1] (so the axis always spans a decade below the DET's 0.5 top).
template <class Get>
double lowest_decade(const std::vector<CurveSeries>& series, Get get, double floor_value) {
  double lo = 0.1;
  for (const auto& s : series) {
    for (const auto& p : s.points) {
      const double v = get(p);
      if (v > 0.0) lo = std::min(lo, v);
    }
  }
  return std::max(floor_value, std::pow(10.0, std::floor(std::log10(lo) + 1e-9)));
}

std::string curve_csv(const std::vector<CurveSeries>& series) {
  if (series.empty()) throw_bad_input("plot: no series to draw");
  std::string csv = "series,threshold,far,tar,frr,label\n";
  for (size_t k = 0; k < series.size(); ++k) {
    for (const auto& p : series[k].points) {
      csv += fmt::format("{},{},{},{},{},{}\n", k, num(p.threshold), num(p.far), num(p.tar),
                         num(1.0 - p.tar), csv_field(series[k].label));
    }
  }
  return csv;
}

// " 'data' skip 1 using (select series k ? X : NaN):Y with lines ... title 'label'", joined.
std::string series_clauses(const std::vector<CurveSeries>& series, const std::string& x,
                           const std::string& y) {
  std::string out;
  for (size_t k = 0; k < series.size(); ++k) {
    if (k) out += ", \\\n     ";
    // Rates of 0 have no place on log or probit axes: skipped.
    out += fmt::format(
        "datafile skip 1 using (int($1) == {k} && ${x} > 0 && ${y} > 0 ? ${x} : NaN):{y} "
        "with lines lw 2 title {t}",
        fmt::arg("k", k), fmt::arg("x", x), fmt::arg("y", y),
        fmt::arg("t", gnuplot_quote(series[k].label)));
  }
  return out + "\n";
}

}  // namespace

std::string gnuplot_quote(const std::string& text) {
  // A newline becomes the string expression '...'."\n".'...' (gnuplot concatenation).
  std::string out = "'";
  for (char c : text) {
    if (c == '\'') {
      out += "''";
    } else if (c == '\n') {
      out += "'.\"\\n\".'";
    } else if (c != '\r') {
      out += c;
    }
  }
  return out + "'";
}

std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\n\r") == std::string::npos) return text;
  std::string out = "\"";
  for (char c : text) {
    if (c == '"')
      out += "\"\"";
    else
      out += c;
  }
  return out + "\"";
}

PlotFiles render_plot(const fs::path& png, const std::string& csv, const std::string& body,
                      int width, int height) {
  if (png.extension() != ".png") {
    throw_bad_input(fmt::format("{}: plot output must end in .png", png.string()));
  }
  PlotFiles files;
  files.png = fs::absolute(png);
  files.csv = fs::path(files.png).replace_extension(".csv");
  files.script = fs::path(files.png).replace_extension(".gp");
  std::error_code ec;
  fs::create_directories(files.png.parent_path(), ec);
  if (ec) {
    throw_io(fmt::format("{}: cannot create folder: {}", files.png.parent_path().string(),
                         ec.message()));
  }
  const std::string script = fmt::format(
      "# Written by faceid. Replot with: cd <this folder> && gnuplot {script}\n"
      "# Data: {csv} (first line = column names).\n"
      "if (!exists(\"outfile\")) outfile = {png}\n"
      "datafile = {csv_q}\n"
      "set terminal pngcairo size {w},{h} enhanced font 'DejaVu Sans,11'\n"
      "set output outfile\n"
      "set datafile separator ','\n"
      "{body}",
      fmt::arg("script", files.script.filename().string()),
      fmt::arg("csv", files.csv.filename().string()),
      fmt::arg("png", gnuplot_quote(files.png.filename().string())),
      fmt::arg("csv_q", gnuplot_quote(files.csv.filename().string())), fmt::arg("w", width),
      fmt::arg("h", height), fmt::arg("body", body));
  write_file_atomic(files.csv, csv);
  write_file_atomic(files.script, script);
  const fs::path tmp = temp_path_for(files.png);
  run_gnuplot(files.script, tmp);
  if (!fs::exists(tmp, ec) || fs::file_size(tmp, ec) == 0) {
    fs::remove(tmp, ec);
    throw_io(fmt::format("gnuplot wrote no image for {}", files.script.string()));
  }
  fs::rename(tmp, files.png, ec);
  if (ec) {
    fs::remove(tmp, ec);
    throw_io(fmt::format("{}: rename failed: {}", files.png.string(), ec.message()));
  }
  return files;
}

PlotFiles plot_roc(const fs::path& png, const std::vector<CurveSeries>& series,
                   const std::string& title) {
  const std::string csv = curve_csv(series);
  const double x_lo = lowest_decade(
      series, [](const RocPoint& p) { return p.far; }, 1e-8);
  std::string body = fmt::format(
      "set title {} noenhanced\n"
      "set xlabel 'False accept rate (FAR)'\n"
      "set ylabel 'True accept rate (TAR)'\n"
      "set logscale x\n"
      "set format x '10^{{%L}}'\n"
      "set xrange [{}:1]\n"
      "set yrange [*:1.002]\n"
      "set grid xtics ytics mxtics\n"
      "set key bottom right noenhanced\n"
      "plot ",
      gnuplot_quote(title), num(x_lo));
  body += series_clauses(series, "3", "4");
  return render_plot(png, csv, body);
}

PlotFiles plot_det(const fs::path& png, const std::vector<CurveSeries>& series,
                   const std::string& title) {
  const std::string csv = curve_csv(series);
  const double x_lo = lowest_decade(
      series, [](const RocPoint& p) { return p.far; }, 1e-7);
  const double y_lo = lowest_decade(
      series, [](const RocPoint& p) { return 1.0 - p.tar; }, 1e-5);
  std::string body = fmt::format(
      "set title {} noenhanced\n"
      "set xlabel 'False accept rate (FAR)'\n"
      "set ylabel 'False reject rate (FRR)'\n"
      "# Probit axes: a normal deviate scale, so Gaussian score distributions give lines.\n"
      "set xrange [{x_lo}:0.5]\n"
      "set yrange [{y_lo}:0.5]\n"
      "set nonlinear x via invnorm(x) inverse norm(x)\n"
      "set nonlinear y via invnorm(y) inverse norm(y)\n"
      "set xtics {x_tics}\n"
      "set ytics {y_tics}\n"
      "set grid\n"
      "set key top right noenhanced\n"
      "plot ",
      gnuplot_quote(title), fmt::arg("x_lo", num(x_lo)), fmt::arg("y_lo", num(y_lo)),
      fmt::arg("x_tics", probit_tics(x_lo, 0.5)), fmt::arg("y_tics", probit_tics(y_lo, 0.5)));
  body += series_clauses(series, "3", "5");
  return render_plot(png, csv, body);
}

PlotFiles plot_distance_histogram(const fs::path& png, const DistanceHistogram& hist,
                                  const std::string& title, std::optional<double> threshold,
                                  bool log_y) {
  if (hist.genuine.size() != hist.impostor.size() || hist.genuine.empty()) {
    throw_bad_input("distance histogram plot: no bins");
  }
  std::string csv = "bin_lo,bin_hi,genuine_fraction,impostor_fraction\n";
  for (size_t k = 0; k < hist.genuine.size(); ++k) {
    const double lo = hist.lo + static_cast<double>(k) * hist.width;
    csv += fmt::format("{},{},{},{}\n", num(lo), num(lo + hist.width), num(hist.genuine[k]),
                       num(hist.impostor[k]));
  }
  std::string body = fmt::format(
      "set title {} noenhanced\n"
      "set xlabel 'Distance'\n"
      "set ylabel 'Fraction of pairs'\n"
      "set style fill transparent solid 0.45 noborder\n"
      "set grid ytics\n"
      "set key top right\n",
      gnuplot_quote(title));
  if (log_y) body += "set logscale y\n";
  if (threshold) {
    body += fmt::format(
        "set arrow from {t}, graph 0 to {t}, graph 1 nohead lw 2 dt 2 lc rgb 'black'\n"
        "set label {lbl} at {t}, graph 0.96 offset 0.6, 0 noenhanced\n",
        fmt::arg("t", num(*threshold)),
        fmt::arg("lbl", gnuplot_quote(fmt::format("threshold {:.4f}", *threshold))));
  }
  auto column = [&](int c) {
    return log_y ? fmt::format("(${0} > 0 ? ${0} : NaN)", c) : fmt::format("{}", c);
  };
  body += fmt::format(
      "plot datafile skip 1 using (($1 + $2) / 2):{}:($2 - $1) with boxes lc rgb '#1f77b4' "
      "title 'genuine', \\\n"
      "     datafile skip 1 using (($1 + $2) / 2):{}:($2 - $1) with boxes lc rgb '#d62728' "
      "title 'impostor'\n",
      column(3), column(4));
  return render_plot(png, csv, body);
}

PlotFiles plot_lines(const fs::path& png, const std::vector<LineSeries>& series,
                     const LinePlotOptions& options) {
  if (series.empty()) throw_bad_input("plot: no series to draw");
  std::string csv = "series,x,y,label\n";
  std::string clauses;
  for (size_t k = 0; k < series.size(); ++k) {
    const auto& s = series[k];
    if (s.x.size() != s.y.size()) {
      throw_bad_input(fmt::format("plot series '{}': {} x values but {} y values", s.label,
                                  s.x.size(), s.y.size()));
    }
    for (size_t i = 0; i < s.x.size(); ++i) {
      csv += fmt::format("{},{},{},{}\n", k, num(s.x[i]), num(s.y[i]), csv_field(s.label));
    }
    if (k) clauses += ", \\\n     ";
    clauses += fmt::format(
        "datafile skip 1 using (int($1) == {} ? $2 : NaN):{} with linespoints lw 2 pt 7 ps 0.5 "
        "title {}",
        k, options.log_y ? "($3 > 0 ? $3 : NaN)" : "3", gnuplot_quote(s.label));
  }
  std::string body = fmt::format(
      "set title {} noenhanced\n"
      "set xlabel {} noenhanced\n"
      "set ylabel {} noenhanced\n"
      "set grid\n"
      "set key noenhanced\n",
      gnuplot_quote(options.title), gnuplot_quote(options.x_label), gnuplot_quote(options.y_label));
  if (options.log_y) body += "set logscale y\n";
  body += "plot " + clauses + "\n";
  return render_plot(png, csv, body);
}

}  // namespace faceid
