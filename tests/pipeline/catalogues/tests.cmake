# Tycho-2 from the astrometry.net index files, and the simulator on the real sky.
tianyu_add_test(pipeline_tycho2_test ${CMAKE_CURRENT_LIST_DIR}/tycho2_test.cpp LIBS tianyu_pipeline tianyu::cfitsio)
tianyu_add_test(pipeline_sky_night_test ${CMAKE_CURRENT_LIST_DIR}/sky_night_test.cpp LIBS tianyu_pipeline tianyu::cfitsio)
