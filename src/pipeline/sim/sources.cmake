# The simulator's real-sky parts (the older files are listed in src/pipeline/CMakeLists.txt).
target_sources(tianyu_pipeline PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/sky.cpp
  ${CMAKE_CURRENT_LIST_DIR}/sky_night.cpp)
