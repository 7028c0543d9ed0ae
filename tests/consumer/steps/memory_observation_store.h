#pragma once
// The observation store's test double: the rows an adapter reads, set by the test, and the
// records it stages, kept for the test to inspect. Same interface as the SQL store, so the
// adapters run unchanged without MariaDB.
#include <algorithm>
#include <functional>
#include <map>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "consumer/steps/observation_store.h"

namespace tianyu::consumer::steps::test {

class MemoryObservationStore : public ObservationStore {
 public:
  // ---- the rows, as a test sets them
  struct Frame {
    RawFrame raw;
    std::uint64_t observation_id = 0;
    std::string kind = "science";
    double jd = 0;  // time order
    FrameCalibration calibration;
  };
  std::map<std::uint64_t, Frame> frames;
  // process id -> its dependencies' products (kind, product)
  std::map<std::uint64_t, std::vector<std::pair<std::string, ImageProduct>>> dependencies;
  std::map<std::uint64_t, FrameAlignment> alignments;
  std::map<std::uint64_t, std::vector<FrameQualityRow>> quality;
  std::map<std::uint64_t, TemplateSources> sources;
  std::map<std::uint64_t, std::vector<GoodFrame>> good;
  std::map<std::uint64_t, std::vector<RawFlux>> fluxes;
  std::map<std::uint64_t, std::vector<SourceLightCurve>> curves;
  std::map<std::uint64_t, SkyPointing> pointings;
  std::map<std::uint64_t, std::vector<FrameConditions>> conditions;
  std::map<std::uint64_t, pipeline::Site> sites;

  // ---- what the adapter staged
  std::vector<ImageProductRecord> image_products;
  std::vector<FrameQualityRecord> frame_quality_records;
  std::vector<MinuteRecord> minutes;
  std::vector<FrameVerdict> verdicts;
  std::map<std::uint64_t, pipeline::recipes::TemplateCatalogue> catalogues;
  std::map<std::uint64_t, std::vector<RawFlux>> staged_fluxes;  // frame id -> rows replacing its rows
  std::map<std::uint64_t, RelativeFluxRecords> relative_flux;
  std::map<std::uint64_t, std::vector<TransitCandidate>> candidates;
  std::map<std::uint64_t, ObservationWcsRecord> wcs;
  std::map<std::uint64_t, std::vector<SourceSky>> sky_positions;
  std::map<std::uint64_t, ObservationNoiseRecord> noise;
  std::map<std::uint64_t, std::vector<FrameSystematicsRecord>> systematics;

  void add_frame(std::uint64_t observation_id, const RawFrame& raw, double jd, FrameCalibration calibration = {},
                 std::string kind = "science") {
    frames[raw.frame_id] = {raw, observation_id, std::move(kind), jd, calibration};
  }

  std::optional<RawFrame> raw_frame(std::uint64_t frame_id) override {
    const auto it = frames.find(frame_id);
    return it == frames.end() ? std::nullopt : std::optional<RawFrame>(it->second.raw);
  }
  std::vector<RawFrame> raw_frames(std::uint64_t observation_id, const std::string& kind) override {
    std::vector<const Frame*> found;
    for (const auto& [id, f] : frames) {
      if (f.observation_id == observation_id && f.kind == kind) found.push_back(&f);
    }
    std::stable_sort(found.begin(), found.end(), [](auto* a, auto* b) { return a->jd < b->jd; });
    std::vector<RawFrame> out;
    for (const auto* f : found) out.push_back(f->raw);
    return out;
  }
  std::optional<std::pair<int, int>> frame_size(std::uint64_t observation_id) override {
    std::map<std::pair<int, int>, int> count;
    for (const auto& f : raw_frames(observation_id, "science")) ++count[{f.width, f.height}];
    if (count.empty()) return std::nullopt;
    return std::max_element(count.begin(), count.end(), [](auto& a, auto& b) { return a.second < b.second; })->first;
  }
  std::optional<FrameCalibration> frame_calibration(std::uint64_t frame_id) override {
    const auto it = frames.find(frame_id);
    return it == frames.end() ? std::nullopt : std::optional<FrameCalibration>(it->second.calibration);
  }
  // In the time order of the products' frames, as the SQL store orders them.
  std::vector<ImageProduct> dependency_products(std::uint64_t process_id, const std::string& kind) override {
    std::vector<ImageProduct> out;
    for (const auto& [k, p] : dependencies[process_id]) {
      if (k == kind) out.push_back(p);
    }
    const auto order = [this](const ImageProduct& p) {
      const auto it = p.frame_id ? frames.find(*p.frame_id) : frames.end();
      return std::make_tuple(it == frames.end() ? 0.0 : it->second.jd, p.frame_id.value_or(0), p.process_id);
    };
    std::stable_sort(out.begin(), out.end(), [&](const auto& a, const auto& b) { return order(a) < order(b); });
    return out;
  }
  std::optional<FrameAlignment> frame_alignment(std::uint64_t frame_id) override {
    const auto it = alignments.find(frame_id);
    return it == alignments.end() ? std::nullopt : std::optional<FrameAlignment>(it->second);
  }
  std::vector<FrameQualityRow> frame_quality(std::uint64_t observation_id) override { return quality[observation_id]; }
  TemplateSources template_sources(std::uint64_t observation_id) override { return sources[observation_id]; }
  std::vector<GoodFrame> good_frames(std::uint64_t observation_id) override { return good[observation_id]; }
  void each_raw_flux(std::uint64_t observation_id, const std::function<void(const RawFlux&)>& visit) override {
    for (const auto& r : fluxes[observation_id]) visit(r);
  }
  std::vector<SourceLightCurve> light_curves(std::uint64_t observation_id) override { return curves[observation_id]; }
  std::optional<SkyPointing> pointing(std::uint64_t observation_id) override {
    const auto it = pointings.find(observation_id);
    return it == pointings.end() ? std::nullopt : std::optional<SkyPointing>(it->second);
  }

  std::vector<FrameConditions> frame_conditions(std::uint64_t observation_id) override {
    return conditions[observation_id];
  }
  std::optional<pipeline::Site> site_location(std::uint64_t observation_id) override {
    const auto it = sites.find(observation_id);
    return it == sites.end() ? std::nullopt : std::optional<pipeline::Site>(it->second);
  }

  void stage_image_product(const ImageProductRecord& record) override { image_products.push_back(record); }
  void stage_frame_quality(const FrameQualityRecord& record) override { frame_quality_records.push_back(record); }
  void stage_minute(const MinuteRecord& record) override { minutes.push_back(record); }
  void stage_frame_verdicts(std::vector<FrameVerdict> v) override { verdicts = std::move(v); }
  void stage_template_catalogue(std::uint64_t observation_id,
                                const pipeline::recipes::TemplateCatalogue& catalogue) override {
    catalogues[observation_id] = catalogue;
  }
  void stage_raw_fluxes(std::uint64_t, std::uint64_t frame_id, std::vector<RawFlux> rows) override {
    staged_fluxes[frame_id] = std::move(rows);
  }
  void stage_relative_flux(std::uint64_t observation_id, RelativeFluxRecords records) override {
    relative_flux[observation_id] = std::move(records);
  }
  void stage_noise_and_systematics(std::uint64_t observation_id, const ObservationNoiseRecord& record,
                                   std::vector<FrameSystematicsRecord> frames_systematics) override {
    noise[observation_id] = record;
    systematics[observation_id] = std::move(frames_systematics);
  }
  void stage_transit_candidates(std::uint64_t observation_id, std::vector<TransitCandidate> c) override {
    candidates[observation_id] = std::move(c);
  }
  void stage_observation_wcs(std::uint64_t observation_id, const ObservationWcsRecord& record,
                             std::vector<SourceSky> positions) override {
    wcs[observation_id] = record;
    sky_positions[observation_id] = std::move(positions);
  }
};

}  // namespace tianyu::consumer::steps::test
