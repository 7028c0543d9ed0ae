# Sources on the sky end to end (issue 16): real-sky simulated nights through scripts/run-local.sh.
tianyu_add_test(sky_nights_test ${CMAKE_CURRENT_LIST_DIR}/sky_nights_test.cpp WHOLE
  LIBS tianyu_test_support tianyu_pipeline)
add_dependencies(sky_nights_test tianyu-manager tianyu-consumer tianyu-publish)
