# The calibration area's newer sources (the older ones are listed in src/pipeline/CMakeLists.txt).
target_sources(tianyu_pipeline PRIVATE ${CMAKE_CURRENT_LIST_DIR}/background_model.cpp
                                       ${CMAKE_CURRENT_LIST_DIR}/tile_statistics.cpp)
# These must round exactly as SEP's C does: no fused multiply-adds, even where a build targets
# a CPU that has them (Debian's libsep is built for baseline x86-64, without).
set_source_files_properties(${CMAKE_CURRENT_LIST_DIR}/background_model.cpp
                            ${CMAKE_CURRENT_LIST_DIR}/tile_statistics.cpp PROPERTIES
  COMPILE_OPTIONS "$<$<CXX_COMPILER_ID:GNU,Clang,AppleClang>:-ffp-contract=off>")
