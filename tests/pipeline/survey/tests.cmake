# The survey search (issue 21): pure tests with known answers.
tianyu_add_test(pipeline_survey_night_vetting_test ${CMAKE_CURRENT_LIST_DIR}/night_vetting_test.cpp LIBS tianyu_pipeline)
tianyu_add_test(pipeline_survey_field_search_test ${CMAKE_CURRENT_LIST_DIR}/field_search_test.cpp LIBS tianyu_pipeline)
