# tianyu-web's benchmark (bench/run-web.sh). Included from bench/CMakeLists.txt.
if(TARGET tianyu_web)
  add_executable(web_bench ${CMAKE_CURRENT_LIST_DIR}/web_bench.cpp)
  target_include_directories(web_bench PRIVATE ${CMAKE_SOURCE_DIR}/tests)
  target_link_libraries(web_bench PRIVATE tianyu_test_support tianyu_web tianyu_pipeline GTest::gtest)
  target_compile_definitions(web_bench PRIVATE TIANYU_SOURCE_DIR="${CMAKE_SOURCE_DIR}")
  add_dependencies(web_bench tianyu-web tianyu-manager tianyu-consumer tianyu-publish)
endif()
