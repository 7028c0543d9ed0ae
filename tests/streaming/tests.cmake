# The short-exposure streaming co-add (issue 17): pure, no services.
tianyu_add_test(streaming_coadd_test
  ${CMAKE_CURRENT_LIST_DIR}/coadd_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/registration_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/short_minute_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/minute_frame_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/minute_parts_test.cpp
  LIBS tianyu_pipeline)
# The coadd_minute step (issue 17): its pure part and the adapter over the in-memory store...
tianyu_add_test(streaming_coadd_minute_step_test ${CMAKE_CURRENT_LIST_DIR}/coadd_minute_step_test.cpp
  LIBS tianyu_consumer)
# ... and a minute of 174 short frames through a real manager and consumer.
tianyu_add_test(streaming_coadd_minute_live_test ${CMAKE_CURRENT_LIST_DIR}/coadd_minute_live_test.cpp
  LIBS tianyu_test_support tianyu_publisher tianyu_pipeline)
add_dependencies(streaming_coadd_minute_live_test tianyu-manager tianyu-consumer)
# A short-exposure night end to end (scripts/run-local.sh on the live services): minutes
# co-added, then the night's steps on the minutes, light curves at 1-minute cadence.
tianyu_add_test(streaming_short_night_test ${CMAKE_CURRENT_LIST_DIR}/short_night_test.cpp WHOLE
  LIBS tianyu_test_support tianyu_publisher tianyu_pipeline)
add_dependencies(streaming_short_night_test tianyu-manager tianyu-consumer tianyu-publish)
