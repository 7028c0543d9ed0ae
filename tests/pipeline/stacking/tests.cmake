# Stacking in bands (issue 17): pure code, no services.
tianyu_add_test(pipeline_stacking_banded_stack_test ${CMAKE_CURRENT_LIST_DIR}/banded_stack_test.cpp
  LIBS tianyu_pipeline)
