#pragma once
// The recipes' own refusal: the inputs cannot give the step's product (no source on the
// template, an aperture multiple out of range, no light curve long enough to search). Bad
// input, so retrying the same inputs can never help.
#include "pipeline/failure.h"

namespace tianyu::pipeline::recipes {

class RecipeInputError : public tianyu::Failure {
 public:
  using Failure::Failure;
};

}  // namespace tianyu::pipeline::recipes
