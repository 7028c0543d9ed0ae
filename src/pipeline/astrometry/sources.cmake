# Astrometry (issue 16): TAN-SIP WCS, the solve-field xylist and command line, the check of a
# solution. solve-field itself runs in the consumer's solve_field step, never linked.
target_sources(tianyu_pipeline PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/wcs.cpp
  ${CMAKE_CURRENT_LIST_DIR}/wcs_header.cpp
  ${CMAKE_CURRENT_LIST_DIR}/solver.cpp)
