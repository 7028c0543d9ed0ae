target_sources(tianyu_pipeline PRIVATE ${CMAKE_CURRENT_LIST_DIR}/night_vetting.cpp ${CMAKE_CURRENT_LIST_DIR}/field_search.cpp
  ${CMAKE_CURRENT_LIST_DIR}/night_variability.cpp)
