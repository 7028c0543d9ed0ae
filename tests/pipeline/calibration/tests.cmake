# Calibration: the threaded background model, bit for bit against one sep_background call. Pure code.
tianyu_add_test(pipeline_calibration_background_model_test
  ${CMAKE_CURRENT_LIST_DIR}/background_model_test.cpp LIBS tianyu_pipeline)
# SEP's per-tile background measurement, tile by tile against sep_background. Pure code.
tianyu_add_test(pipeline_calibration_tile_statistics_test
  ${CMAKE_CURRENT_LIST_DIR}/tile_statistics_test.cpp LIBS tianyu_pipeline)
# Its literal reference of SEP's mode estimate must round as SEP's C does: no fused multiply-adds.
set_source_files_properties(${CMAKE_CURRENT_LIST_DIR}/tile_statistics_test.cpp PROPERTIES
  COMPILE_OPTIONS "$<$<CXX_COMPILER_ID:GNU,Clang,AppleClang>:-ffp-contract=off>")
