# The solve_field step (issue 16) with the in-memory observation store; runs solve-field.
tianyu_add_test(consumer_solve_field_step_test consumer/steps/solve_field_step_test.cpp LIBS tianyu_consumer)
# The consumer's master cache (issue 17: masters read once a process, not once a frame).
tianyu_add_test(consumer_master_cache_test consumer/steps/master_cache_test.cpp LIBS tianyu_consumer)
# The transit search's light curves read in relative_flux's key order, as the light_curve view
# gives them (issue 17: the view's sort had the server wait 3 s of a night).
tianyu_add_test(consumer_light_curve_query_test consumer/steps/light_curve_query_test.cpp
                LIBS tianyu_test_support tianyu_publisher tianyu_consumer)
