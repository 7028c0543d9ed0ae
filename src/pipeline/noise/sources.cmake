# Noise: the gain when the header has none, comparison weights, error checks (issue 19); and the
# airmass of a pointing, a baseline regressor.
target_sources(tianyu_pipeline PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/gain.cpp
  ${CMAKE_CURRENT_LIST_DIR}/ensemble.cpp
  ${CMAKE_CURRENT_LIST_DIR}/chi2.cpp
  ${CMAKE_CURRENT_LIST_DIR}/night_noise.cpp
  ${CMAKE_CURRENT_LIST_DIR}/../time/airmass.cpp)
