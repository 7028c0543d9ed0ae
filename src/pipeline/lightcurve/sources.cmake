# Light curves as FITS tables a TESS user can open (issue 16).
target_sources(tianyu_pipeline PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/fits_light_curve.cpp
  ${CMAKE_CURRENT_LIST_DIR}/fits_light_curve_read.cpp)
