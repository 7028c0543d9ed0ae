#include "steps/catalogue.h"

#include <spdlog/fmt/fmt.h>

#include "steps/step_params.h"

namespace tianyu::steps {
namespace {

struct Connections {
  std::vector<std::string> reads, writes;
};

template <class P>
StepDeclaration declare(std::string command, std::string summary, Connections io, std::string recipe = "") {
  StepDeclaration d;
  d.command = command;
  d.summary = std::move(summary);
  d.params = document_params<P>();
  d.reads = std::move(io.reads);
  d.writes = std::move(io.writes);
  d.recipe = std::move(recipe);
  d.normalise = [command](const json& j) { return write_params(read_params<P>(j, command)); };
  return d;
}

std::vector<StepDeclaration> diagnostic_steps() {
  return {
      declare<NoParams>("noop", "nothing (dispatch overhead, tests)", {}),
      declare<SleepParams>("sleep", "waits", {}),
      declare<FailParams>("fail", "always fails (retried up to `max_attempts`)", {{}, {"error text"}}),
      declare<FlakyParams>("flaky", "fails its first k attempts, then succeeds", {}),
      declare<TouchParams>("touch",
                           "writes `touch/<process_id>` under the site root and a `touch_effect` row in its success "
                           "transaction (countable effects)",
                           {{}, {"file touch/<process_id>", "touch_effect row"}}),
      declare<SimulateNightParams>("simulate_night",
                                   "a simulated observing night with its truth, staged beside `out` and renamed into "
                                   "it (never into the raw-frame area)",
                                   {{}, {"out/raw/", "out/calib/", "out/truth/"}}, "pipeline::sim::simulate_night"),
  };
}

std::vector<StepDeclaration> reduction_steps() {
  const std::string masters = "master_bias, master_dark (products of its dependencies)";
  return {
      declare<ObservationParams>("master_bias", "the observation's bias frames combined (sigma-clipped, band by band)",
                                 {{"raw_frame (bias)"}, {"product master_bias"}}, "pipeline::master_bias"),
      declare<ObservationParams>("master_dark", "the dark frames combined into a dark rate (bias removed)",
                                 {{"raw_frame (dark)", "product master_bias"}, {"product master_dark"}},
                                 "pipeline::master_dark_rate"),
      declare<ObservationParams>("master_flat", "the flat frames combined, their stars masked",
                                 {{"raw_frame (flat)", "products " + masters}, {"product master_flat"}},
                                 "pipeline::master_flat"),
      declare<FrameParams>("calibrate",
                           "one science frame through the masters, SEP background removed, pixel mask, SEP catalogue; "
                           "refuses a frame of another size than the observation's",
                           {{"raw_frame", "frame_calibration", "products master_bias, master_dark, master_flat"},
                            {"product calibrated (image, mask, catalogue)"}},
                           "pipeline::calibrate, pipeline::extract_sources"),
      declare<FrameParams>("align",
                           "the frame's catalogue onto the reference frame's (the first of the night's first five "
                           "frames that calibrated; translation or affine), quality numbers",
                           {{"products calibrated or minute_stack (its own and the reference candidates')"}, {"frame_quality row"}},
                           "pipeline::align_to_reference"),
      declare<ObservationParams>("select_frames", "the quality rules over every aligned frame",
                                 {{"frame_quality"}, {"frame_quality.good, rejected_reason"}}, "pipeline::select_frames"),
      declare<StackParams>("stack",
                           "one node of the stacking tree: good frames (rejected weigh 0) or child nodes with their "
                           "weight maps; the root is the template",
                           {{"products calibrated or minute_stack (its frames)", "products stack (its child nodes)", "frame_quality"},
                            {"product stack or template (image, weight map)"}},
                           "pipeline::stack_node"),
      declare<CoaddMinuteParams>("coadd_minute",
                                 "short-exposure mode: one minute of short raw frames, each read once, calibrated "
                                 "with the masters, registered on a few bright stars and summed; nothing written per "
                                 "short frame; a frame that is truncated, of another size or exposure, or not finite "
                                 "fails the minute naming it; in a night's DAG each minute is then a frame for the steps "
                                 "after it",
                                 {{"raw_frame (science, jd_utc_mid)", "frame_calibration",
                                   "products master_bias, master_dark, master_flat"},
                                  {"product minute_stack (calibrated sum, exposure map, catalogue), or with "
                                   "grid_frame_id product minute_part (sum, exposure map)",
                                   "minute_time row (mean time, summed exposure)"}},
                                 "pipeline::streaming::MinuteCoadd"),
      declare<CombineMinuteParams>("combine_minute",
                                   "several consumers share a minute: the parts (coadd_minute with grid_frame_id, "
                                   "each on the grid of the minute's first frame) added up into the minute, recorded "
                                   "as one coadd_minute would record it; the parts must hold exactly the minute's "
                                   "frames",
                                   {{"products minute_part (sum, exposure map)", "raw_frame (science)"},
                                    {"product minute_stack (calibrated sum, exposure map, catalogue)",
                                     "minute_time row (mean time, summed exposure)"}},
                                   "pipeline::streaming::sum_minute_parts"),
  };
}

std::vector<StepDeclaration> photometry_steps() {
  return {
      declare<DetectSourcesParams>("detect_sources",
                                   "the template's sources (ids by brightness, isolation) and the aperture radii "
                                   "(multiples of the median FWHM)",
                                   {{"product template (or the single frame's calibrated)"}, {"source rows", "aperture rows"}},
                                   "pipeline::detect_sources"),
      declare<SolveFieldParams>("solve_field",
                                "the template's astrometric solution: our sources through astrometry.net's solve-field "
                                "(a subprocess with a time limit, hinted by the pointing and a scale range) or the "
                                "operator's WCS file; every source's RA/Dec. No solution: solved = 0 and the reason, "
                                "the night goes on with pixel positions",
                                {{"source", "frame_calibration (pointing)", "target", "options.operator_wcs file"},
                                 {"observation_wcs row", "source.ra_deg, dec_deg"}},
                                "pipeline::astrometry (solve-field run by the step)"),
      declare<MatchFieldParams>("match_field",
                                "the night's sources (with RA/Dec) into their field's catalogue on the sphere: ids "
                                "stable across nights (matched, new or blend), mean positions, nights seen, the three "
                                "nearest catalogue stars; nothing for an unsolved night",
                                {{"source", "observation_wcs", "field_source", "Tycho-2 index files", "catalogue_file"},
                                 {"field row", "field_source rows", "source_field_match rows",
                                  "field_source_catalogue_star rows"}},
                                "pipeline::sky::merge_night_into_field (in the success transaction, field row locked)"),
      declare<FrameParams>("photometry",
                           "every source in one good frame at every radius (nothing for a rejected frame)",
                           {{"product calibrated or minute_stack", "frame_quality", "frame_calibration", "source", "aperture"},
                            {"raw_flux rows"}},
                           "pipeline::measure_apertures"),
      declare<ObservationParams>("relative_flux",
                                 "references (Broeg-weighted where that lowers the scatter), groups, pruning and relative "
                                 "flux over the night; best radius per source; RMS, CDPP; the gain when none is known "
                                 "(flats, else constant stars) and the errors recomputed with it; each frame's systematics",
                                 {{"raw_flux", "source", "aperture", "frame_quality",
                                   "frame_calibration (gain, airmass, time)", "minute_time",
                                   "raw_frame (flat, bias; header altitude)",
                                   "product calibrated or minute_stack (background)", "site (location)"},
                                  {"relative_flux rows", "source_photometry rows", "reference_group rows",
                                   "observation_noise row", "frame_systematics rows"}},
                                 "pipeline::relative_flux_night"),
      declare<ObservationParams>("transit_search",
                                 "every light curve of the night through the single-transit model comparison (durations "
                                 "up to the night, partial events at either end), on all cores; then vetted against its "
                                 "own noise, coverage, the frame edge, saturation and its neighbours, and ranked",
                                 {{"light_curve", "source", "source_photometry", "raw_flux flags"},
                                  {"transit_candidate rows", "transit_vetting rows", "alert rows (vetted, ln BF >= 20)"}},
                                 "pipeline::search_single_transits, pipeline::survey::vet_night"),
      declare<FieldSearchParams>("field_search",
                                 "every field source's light curve across its nights (flagged points left out, each "
                                 "night's offset free) searched for periodic transits (GP or BLS), the best signal "
                                 "masked and searched again; odd-even, secondary, single-event ln BF, a false-alarm "
                                 "fraction from the field's inverted curves, flags in words; ranked; alerts above the "
                                 "thresholds",
                                 {{"field_light_curve", "field_source"}, {"survey_candidate rows", "alert rows"}},
                                 "pipeline::survey::search_field_source, inverted_peak_snr"),
  };
}

std::string cell(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : "; ") + i;
  return out.empty() ? "—" : out;
}

std::string params_cell(const std::vector<ParamDoc>& params) {
  std::string out;
  for (const auto& p : params) {
    out += (out.empty() ? "" : ", ") + fmt::format("`{}`", p.name);
    if (!p.required && !p.default_value.empty()) out += fmt::format(" = `{}`", p.default_value);
  }
  return out.empty() ? "—" : out;
}

}  // namespace

const std::vector<StepDeclaration>& declared_steps() {
  static const std::vector<StepDeclaration> steps = [] {
    std::vector<StepDeclaration> all = diagnostic_steps();
    for (auto* family : {reduction_steps, photometry_steps}) {
      for (auto& d : family()) all.push_back(std::move(d));
    }
    return all;
  }();
  return steps;
}

const StepDeclaration* find_step(std::string_view command) {
  for (const auto& d : declared_steps()) {
    if (d.command == command) return &d;
  }
  return nullptr;
}

json normalised_params(std::string_view command, const json& params) {
  const auto* d = find_step(command);
  if (!d) {
    std::string known;
    for (const auto& s : declared_steps()) known += (known.empty() ? "" : ", ") + s.command;
    throw InputError(fmt::format("unknown command '{}' (the steps are: {})", command, known));
  }
  return d->normalise(params);
}

std::string step_table_markdown() {
  std::string out =
      "| command | what it does | parameters (default) | reads | writes |\n"
      "|---|---|---|---|---|\n";
  for (const auto& d : declared_steps()) {
    out += fmt::format("| `{}` | {} | {} | {} | {} |\n", d.command, d.summary, params_cell(d.params), cell(d.reads),
                       cell(d.writes));
  }
  return out;
}

}  // namespace tianyu::steps
