# tianyu-web (issue 18): the pages in headless chromium over a finished simulated night.
# WHOLE: the night (run-local on 40 frames) is the fixture of every case; ctest would redo it
# per case. Needs the live services (TIANYU_REQUIRE_LIVE=1 makes their absence a failure).
if(TARGET tianyu_web)
  tianyu_add_test(web_test web/web_test.cpp WHOLE
    LIBS tianyu_test_support tianyu_web tianyu_publisher tianyu_pipeline)
  target_compile_definitions(web_test PRIVATE TIANYU_WEB_ARTIFACTS="${CMAKE_BINARY_DIR}/web-artifacts")
  add_dependencies(web_test tianyu-web tianyu-manager tianyu-consumer tianyu-publish)
  set_tests_properties(web_test PROPERTIES TIMEOUT 400)
endif()
