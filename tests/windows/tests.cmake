# Windows consumers under Wine (issue 22): tianyu-consumer.exe (built by the fixture
# portability.mingw_cross_build into <build>/mingw) beside a Linux consumer and manager on the
# live services; a private Wine prefix under <build>/wine. Skips (77) without Wine, the Windows
# build or the live services, saying which. The tests share the prefix (and its wineserver,
# which each ends when it is done): they never run at the same time.
function(tianyu_wine_test name script)
  add_test(NAME ${name}
    COMMAND bash ${CMAKE_CURRENT_FUNCTION_LIST_DIR}/${script} ${CMAKE_SOURCE_DIR}
            $<TARGET_FILE_DIR:tianyu-manager> ${CMAKE_BINARY_DIR}/mingw/bin/tianyu-consumer.exe
            ${CMAKE_BINARY_DIR}/wine)
  set_tests_properties(${name} PROPERTIES
    FIXTURES_REQUIRED tianyu_windows_consumer FAIL_REGULAR_EXPRESSION "FAIL:" SKIP_RETURN_CODE 77
    TIMEOUT 600 RESOURCE_LOCK tianyu_wine_prefix)
endfunction()

tianyu_wine_test(windows.wine_consumer_shares_the_queue wine_consumer_test.sh)
# A simulated night's DAG (tianyu-sim) run Linux-only and again shared by a Linux and a Windows
# consumer: product files byte-identical and science rows equal (doubles within rounding where
# MinGW's libm and glibc differ; the test's header says where).
tianyu_wine_test(windows.wine_night_matches_linux wine_night_test.sh)
