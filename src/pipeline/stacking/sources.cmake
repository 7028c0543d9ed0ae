# Stacking in bands of rows (issue 17), and the row-range FITS reader and writer it streams
# through (src/pipeline/fits_rows.*, listed here so the shared source list stays untouched).
target_sources(tianyu_pipeline PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/banded_stack.cpp
  ${CMAKE_CURRENT_LIST_DIR}/../fits_rows.cpp)
