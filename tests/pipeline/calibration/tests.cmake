# Calibration: the threaded background model, bit for bit against one sep_background call. Pure code.
tianyu_add_test(pipeline_calibration_background_model_test
  ${CMAKE_CURRENT_LIST_DIR}/background_model_test.cpp LIBS tianyu_pipeline)
