# Real nights at their noise floor (issue 19): the gain from the simulator's flats (pure), and
# end to end (scripts/run-local.sh against the live services) on HAT-P-32 and a simulated night.
tianyu_add_test(noise_sim_flat_gain_test ${CMAKE_CURRENT_LIST_DIR}/sim_flat_gain_test.cpp LIBS tianyu_pipeline)
tianyu_add_test(noise_end_to_end_test ${CMAKE_CURRENT_LIST_DIR}/noise_end_to_end_test.cpp WHOLE
  LIBS tianyu_test_support tianyu_pipeline)
add_dependencies(noise_end_to_end_test tianyu-manager tianyu-consumer tianyu-publish tianyu-transit)
# The limb-darkened transit of a known planet (the night's fit whose shape cannot trade with
# the baseline's systematics).
tianyu_add_test(pipeline_transit_limb_darkened_fit_test ${CMAKE_SOURCE_DIR}/tests/pipeline/transit/limb_darkened_fit_test.cpp
  LIBS tianyu_pipeline)
