#include "web/svg.h"

#include <algorithm>
#include <cmath>

#include <spdlog/fmt/fmt.h>

#include "web/html.h"

namespace tianyu::web::svg {
namespace {

constexpr double kLeft = 58, kRight = 12, kTop = 22, kBottom = 34;

struct Range {
  double lo = INFINITY, hi = -INFINITY;
  void add(double v) {
    if (!std::isfinite(v)) return;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  void settle() {
    if (!(lo <= hi)) lo = 0, hi = 1;
    if (hi - lo < 1e-12) lo -= 0.5, hi += 0.5;  // a flat series still gets an axis
  }
};

struct Frame {
  Range x, y;
  double w, h;
  bool invert;
  double px(double v) const { return kLeft + (v - x.lo) / (x.hi - x.lo) * (w - kLeft - kRight); }
  double py(double v) const {
    const double f = (v - y.lo) / (y.hi - y.lo);
    return kTop + (invert ? f : 1 - f) * (h - kTop - kBottom);
  }
};

std::string axes(const Plot& p, const Frame& f) {
  std::string out = fmt::format(
      "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#999\"/>", kLeft, kTop,
      f.w - kLeft - kRight, f.h - kTop - kBottom);
  out += fmt::format("<text x=\"{}\" y=\"14\" font-size=\"13\">{}</text>", kLeft, html::escape(p.title));
  out += fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"middle\">{}</text>",
                     (f.w + kLeft) / 2, f.h - 4, html::escape(p.x_label));
  out += fmt::format("<text x=\"12\" y=\"{0}\" font-size=\"11\" text-anchor=\"middle\" "
                     "transform=\"rotate(-90 12 {0})\">{1}</text>", (f.h) / 2, html::escape(p.y_label));
  for (const double v : {f.y.lo, (f.y.lo + f.y.hi) / 2, f.y.hi}) {
    out += fmt::format("<text x=\"{}\" y=\"{:.1f}\" font-size=\"10\" text-anchor=\"end\">{:.4g}</text>",
                       kLeft - 3, f.py(v) + 3, v);
  }
  for (const double v : {f.x.lo, (f.x.lo + f.x.hi) / 2, f.x.hi}) {
    out += fmt::format("<text x=\"{:.1f}\" y=\"{}\" font-size=\"10\" text-anchor=\"middle\">{:.6g}</text>",
                       f.px(v), f.h - kBottom + 12, v);
  }
  return out;
}

}  // namespace

std::string render(const Plot& p) {
  Frame f{{}, {}, static_cast<double>(p.width), static_cast<double>(p.height), p.invert_y};
  for (const auto* series : {&p.points, &p.line}) {
    for (const auto& pt : *series) {
      if (!std::isfinite(pt.x) || !std::isfinite(pt.y)) continue;
      f.x.add(pt.x);
      f.y.add(pt.y);
    }
  }
  if (p.bars) f.y.add(0);
  f.x.settle();
  f.y.settle();
  std::string out = fmt::format("<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"plot\" width=\"{0}\" "
                                "height=\"{1}\" viewBox=\"0 0 {0} {1}\">", p.width, p.height);
  out += axes(p, f);
  const double bar_w = std::max(1.0, (f.w - kLeft - kRight) / std::max<std::size_t>(p.points.size(), 1) - 1);
  for (const auto& pt : p.points) {
    if (!std::isfinite(pt.x) || !std::isfinite(pt.y)) continue;
    if (p.bars) {
      out += fmt::format("<rect class=\"pt\" x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" fill=\"#2980b9\"/>",
                         f.px(pt.x) - bar_w / 2, f.py(pt.y), bar_w, f.py(0) - f.py(pt.y));
    } else {
      out += fmt::format("<circle class=\"pt{}\" cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"{}\" fill=\"{}\"/>",
                         pt.flagged ? " flagged" : "", f.px(pt.x), f.py(pt.y), pt.flagged ? 2.5 : 1.8,
                         pt.flagged ? "#c0392b" : "#7f8c8d");
    }
  }
  if (!p.line.empty()) {
    out += "<polyline fill=\"none\" stroke=\"#1f3b57\" stroke-width=\"2\" points=\"";
    for (const auto& pt : p.line) {
      if (std::isfinite(pt.x) && std::isfinite(pt.y)) out += fmt::format("{:.1f},{:.1f} ", f.px(pt.x), f.py(pt.y));
    }
    out += "\"/>";
  }
  return out + "</svg>";
}

}  // namespace tianyu::web::svg
