#pragma once
// The parameters of every step, one struct each, shared by the publisher (which builds them)
// and the consumer (which reads them back strictly). Defaults live beside their fields; the
// recipe options a step passes to src/pipeline are the pipeline's own option structs, so the
// tests and benchmarks that call the recipe run with the same defaults as production.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "pipeline/recipes/detect_sources.h"
#include "steps/params.h"

namespace tianyu::steps {

// ---- diagnostic steps (the process machinery without astronomy)

struct NoParams {
  template <class V> void visit(V&) {}
};

struct SleepParams {
  std::uint64_t ms = 0;
  template <class V> void visit(V& v) { v.optional("ms", ms, "milliseconds to wait"); }
};

struct FailParams {
  std::string message = "the fail step always fails";
  template <class V> void visit(V& v) { v.optional("message", message, "the error text of every attempt"); }
};

struct FlakyParams {
  std::uint64_t failures = 1;
  template <class V> void visit(V& v) { v.optional("failures", failures, "the first k attempts fail"); }
};

struct TouchParams {
  std::uint64_t sleep_ms = 0;
  template <class V> void visit(V& v) { v.optional("sleep_ms", sleep_ms, "milliseconds to wait before writing"); }
};

struct SimulateNightParams {
  std::string out;
  std::string preset = "default";
  std::optional<std::uint64_t> seed;
  json config = json::object();
  std::uint64_t threads = 0;
  template <class V> void visit(V& v) {
    v.required("out", out, "directory for the night, relative to the site root");
    v.optional("preset", preset, "default, paper or tianyu");
    v.optional("seed", seed, "random seed (the preset's when absent)");
    v.optional("config", config, "SimConfig fields overriding the preset");
    v.optional("threads", threads, "worker threads (0: one per core)");
  }
};

// ---- an observation's pipeline

// master_bias, master_dark, master_flat, select_frames, relative_flux, transit_search.
struct ObservationParams {
  std::uint64_t observation_id = 0;
  template <class V> void visit(V& v) { v.required("observation_id", observation_id, "the observation"); }
};

// calibrate, align, photometry.
struct FrameParams {
  std::uint64_t observation_id = 0;
  std::uint64_t frame_id = 0;
  template <class V> void visit(V& v) {
    v.required("observation_id", observation_id, "the observation");
    v.required("frame_id", frame_id, "the science frame");
  }
};

struct StackParams {
  std::uint64_t observation_id = 0;
  std::uint64_t node = 0;
  bool is_template = false;
  std::vector<std::uint64_t> frame_ids;
  template <class V> void visit(V& v) {
    v.required("observation_id", observation_id, "the observation");
    v.required("node", node, "the node's index in the stacking tree");
    v.optional("template", is_template, "the root: its stack is the observation's template");
    v.optional("frame_ids", frame_ids, "the frames stacked at this node (child nodes are its dependencies)");
  }
};

// The photometry options an operator may set (`tianyu-publish pipeline --photometry JSON`).
struct PhotometryOptions {
  std::vector<double> radii_fwhm = pipeline::recipes::DetectSourcesOptions{}.radii_fwhm;
  template <class V> void visit(V& v) {
    v.optional("radii_fwhm", radii_fwhm, "aperture radii as multiples of the template's median FWHM, in (0, 20)");
  }
};

struct DetectSourcesParams {
  std::uint64_t observation_id = 0;
  PhotometryOptions options;
  template <class V> void visit(V& v) {
    v.required("observation_id", observation_id, "the observation");
    v.nested("options", options, "photometry options");
  }
};

}  // namespace tianyu::steps
