#pragma once
// The adapters without live services: a temporary site root behind a SiteStore, the in-memory
// observation store, and the production step registry; synthetic frames through write_fits.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "common/site_store.h"
#include "consumer/steps/registry.h"
#include "consumer/steps/memory_observation_store.h"
#include "pipeline/fits_io.h"
#include "pipeline/image.h"

namespace tianyu::consumer::steps::test {

namespace fs = std::filesystem;

struct Star {
  double x, y, flux;
};

// A sky of `sky` ADU with Gaussian read noise, stars of FWHM ~3 px.
inline pipeline::Image star_field(int width, int height, const std::vector<Star>& stars, double sky = 1000,
                                  unsigned seed = 1) {
  pipeline::Image image(width, height);
  std::mt19937 rng(seed);
  std::normal_distribution<double> noise(0.0, 5.0);
  const double sigma = 3.0 / 2.3548;
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      double v = sky + noise(rng);
      for (const auto& s : stars) {
        const double r2 = (x - s.x) * (x - s.x) + (y - s.y) * (y - s.y);
        if (r2 < 100) v += s.flux / (2 * M_PI * sigma * sigma) * std::exp(-r2 / (2 * sigma * sigma));
      }
      image.pixels[static_cast<std::size_t>(y) * width + x] = static_cast<float>(v);
    }
  }
  return image;
}

// Stars spread over the frame (deterministic), none near the edge and none within 12 px of
// another (so each is one source).
inline std::vector<Star> some_stars(int n, int width, int height, unsigned seed = 7) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> ux(12, width - 12), uy(12, height - 12), uf(20000, 80000);
  std::vector<Star> out;
  while (static_cast<int>(out.size()) < n) {
    const Star s{ux(rng), uy(rng), uf(rng)};
    const auto near = [&](const Star& o) { return std::hypot(o.x - s.x, o.y - s.y) < 12; };
    if (std::none_of(out.begin(), out.end(), near)) out.push_back(s);
  }
  return out;
}

class StepTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("tianyu_step_test_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_ / "raw");
    site_ = std::make_unique<store::SiteStore>(root_);
    register_reduction_steps(registry_);
    register_photometry_steps(registry_);
  }
  void TearDown() override { fs::remove_all(root_); }

  // A raw frame file under raw/, its row in the store.
  RawFrame add_raw(std::uint64_t obs, std::uint64_t frame_id, const pipeline::Image& image, double jd,
                   FrameCalibration calibration = {}, const std::string& kind = "science",
                   const pipeline::Header& header = {}) {
    const std::string relative = "raw/f" + std::to_string(frame_id) + ".fits";
    pipeline::write_fits(root_ / relative, image, header);
    const RawFrame raw{frame_id, relative, image.width, image.height};
    db_.add_frame(obs, raw, jd, calibration, kind);
    return raw;
  }

  // Runs `command` as process `process_id` (attempt 1) with `params`, as the consumer would.
  StepContext run(const std::string& command, std::uint64_t process_id, const nlohmann::json& params) {
    StepContext ctx;
    ctx.process_id = process_id;
    ctx.attempt = 1;
    ctx.command = command;
    ctx.params = params;
    ctx.site_root = root_;
    ctx.store = site_.get();
    ctx.observations = &db_;
    const auto* handler = registry_.find(command);
    if (handler == nullptr) throw std::runtime_error("no step " + command);
    (*handler)(ctx);
    return ctx;
  }

  fs::path root_;
  std::unique_ptr<store::SiteStore> site_;
  StepRegistry registry_;
  MemoryObservationStore db_;
};

}  // namespace tianyu::consumer::steps::test
