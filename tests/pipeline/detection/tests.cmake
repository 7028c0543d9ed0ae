# Source extraction: the catalogue's order, a field's stars where they were put, and why the
# extraction is not split into bands (SEP 1.2's catalogue of a band is not the frame's). Pure code.
tianyu_add_test(pipeline_detection_banded_extract_test ${CMAKE_CURRENT_LIST_DIR}/banded_extract_test.cpp
  LIBS tianyu_pipeline)
