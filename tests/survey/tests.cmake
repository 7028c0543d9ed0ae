# The survey search (issue 21) end to end: the real HAT-P-32 night's vetted ranking.
tianyu_add_test(survey_hatp32_ranking_test ${CMAKE_CURRENT_LIST_DIR}/hatp32_ranking_test.cpp WHOLE
  LIBS tianyu_test_support)
add_dependencies(survey_hatp32_ranking_test tianyu-manager tianyu-consumer tianyu-publish)
# The alert documents (VOEvent XML parsed by xmllint, the JSON twin) and the AAVSO report.
tianyu_add_test(survey_alert_format_test ${CMAKE_CURRENT_LIST_DIR}/alert_format_test.cpp LIBS tianyu_publisher)
# Eight simulated nights of one field with a periodic planet: run-local per night, then the field
# search, its ranking and its alert on tianyu.alerts (issue 21). Live services.
tianyu_add_test(survey_field_test ${CMAKE_CURRENT_LIST_DIR}/survey_field_test.cpp WHOLE LIBS tianyu_test_support tianyu_pipeline)
set_tests_properties(survey_field_test PROPERTIES TIMEOUT 1500)
add_dependencies(survey_field_test tianyu-manager tianyu-consumer tianyu-publish)
# The alert outbox on the live services: published once as VOEvent and JSON, marked after the
# broker's confirm; operations events on their own exchange.
tianyu_add_test(survey_alert_relay_test ${CMAKE_CURRENT_LIST_DIR}/alert_relay_test.cpp LIBS tianyu_test_support)
# WASP-4 b (TESS sector 2) through the field search's own candidate code; skips without ../shared/data.
tianyu_add_test(survey_wasp4b_test ${CMAKE_CURRENT_LIST_DIR}/wasp4b_field_search_test.cpp LIBS tianyu_pipeline)
# Survey-level pure cases: the false-alarm rate over constant and active stars, an eclipsing binary
# at the planet's depth.
tianyu_add_test(survey_false_alarm_test ${CMAKE_CURRENT_LIST_DIR}/field_false_alarm_test.cpp LIBS tianyu_pipeline)
# The night's vetting refuses a single transit on a star that varies within the night.
tianyu_add_test(survey_night_variability_test ${CMAKE_CURRENT_LIST_DIR}/night_variability_test.cpp LIBS tianyu_pipeline)
