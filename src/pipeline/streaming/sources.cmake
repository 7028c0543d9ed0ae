# The short-exposure streaming mode (issue 17): a minute of short frames co-added in one pass.
target_sources(tianyu_pipeline PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/calibration_plan.cpp
  ${CMAKE_CURRENT_LIST_DIR}/registration.cpp
  ${CMAKE_CURRENT_LIST_DIR}/minute_coadd.cpp
  ${CMAKE_CURRENT_LIST_DIR}/minute_frame.cpp
  ${CMAKE_CURRENT_LIST_DIR}/short_minute.cpp)
