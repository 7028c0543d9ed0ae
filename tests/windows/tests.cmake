# Windows consumers under Wine (issue 22): tianyu-consumer.exe (built by the fixture
# portability.mingw_cross_build into <build>/mingw) beside a Linux consumer and manager on the
# live services; a private Wine prefix under <build>/wine. Skips (77) without Wine, the Windows
# build or the live services, saying which.
add_test(NAME windows.wine_consumer_shares_the_queue
  COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/wine_consumer_test.sh ${CMAKE_SOURCE_DIR}
          $<TARGET_FILE_DIR:tianyu-manager> ${CMAKE_BINARY_DIR}/mingw/bin/tianyu-consumer.exe
          ${CMAKE_BINARY_DIR}/wine)
set_tests_properties(windows.wine_consumer_shares_the_queue PROPERTIES
  FIXTURES_REQUIRED tianyu_windows_consumer FAIL_REGULAR_EXPRESSION "FAIL:" SKIP_RETURN_CODE 77
  TIMEOUT 600)
