# External star catalogues: Tycho-2 from the installed astrometry.net index files.
target_sources(tianyu_pipeline PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/tycho2.cpp)
