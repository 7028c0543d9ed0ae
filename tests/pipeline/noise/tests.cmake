# Noise (issue 19): the gain without a header keyword, comparison weights, reduced chi2, airmass.
tianyu_add_test(pipeline_noise_test
  ${CMAKE_CURRENT_LIST_DIR}/gain_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/ensemble_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/chi2_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/airmass_test.cpp
  LIBS tianyu_pipeline)
