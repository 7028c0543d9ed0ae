# Sources on the sky (issue 16): the sphere, a KD-tree of directions, a field's catalogue with
# ids stable across nights, external catalogue neighbours and operator catalogue extracts.
target_sources(tianyu_pipeline PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/sphere.cpp
  ${CMAKE_CURRENT_LIST_DIR}/sky_tree.cpp
  ${CMAKE_CURRENT_LIST_DIR}/field_match.cpp
  ${CMAKE_CURRENT_LIST_DIR}/catalogue_neighbours.cpp
  ${CMAKE_CURRENT_LIST_DIR}/catalogue_extract.cpp
  ${CMAKE_CURRENT_LIST_DIR}/catalogue_extract_fits.cpp)
