// The observation pipeline's steps, one adapter per process type (see observation_io.h).
#include "consumer/steps/registry.h"

namespace tianyu::consumer {
namespace steps {
void register_master_steps(StepRegistry& registry);
void register_calibrate_step(StepRegistry& registry);
void register_align_step(StepRegistry& registry);
void register_select_step(StepRegistry& registry);
void register_stack_step(StepRegistry& registry);
void register_coadd_minute_step(StepRegistry& registry);
void register_combine_minute_step(StepRegistry& registry);
void register_detect_sources_step(StepRegistry& registry);
void register_solve_field_step(StepRegistry& registry);
void register_match_field_step(StepRegistry& registry);
void register_photometry_step(StepRegistry& registry);
void register_relative_flux_step(StepRegistry& registry);
void register_transit_search_step(StepRegistry& registry);
void register_field_search_step(StepRegistry& registry);
}  // namespace steps

void register_reduction_steps(StepRegistry& registry) {
  steps::register_master_steps(registry);
  steps::register_calibrate_step(registry);
  steps::register_align_step(registry);
  steps::register_select_step(registry);
  steps::register_stack_step(registry);
  steps::register_coadd_minute_step(registry);
  steps::register_combine_minute_step(registry);
}

void register_photometry_steps(StepRegistry& registry) {
  steps::register_detect_sources_step(registry);
  steps::register_solve_field_step(registry);
  steps::register_match_field_step(registry);
  steps::register_photometry_step(registry);
  steps::register_relative_flux_step(registry);
  steps::register_transit_search_step(registry);
  steps::register_field_search_step(registry);
}

}  // namespace tianyu::consumer
