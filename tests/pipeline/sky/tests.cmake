# Sources on the sky (issue 16): pure code, no services.
tianyu_add_test(pipeline_sky_sphere_test ${CMAKE_CURRENT_LIST_DIR}/sphere_test.cpp LIBS tianyu_pipeline)
tianyu_add_test(pipeline_sky_field_match_test ${CMAKE_CURRENT_LIST_DIR}/field_match_test.cpp LIBS tianyu_pipeline)
tianyu_add_test(pipeline_sky_catalogue_test ${CMAKE_CURRENT_LIST_DIR}/catalogue_test.cpp LIBS tianyu_pipeline)
