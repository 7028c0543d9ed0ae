# The solve_field step (issue 16) with the in-memory observation store; runs solve-field.
tianyu_add_test(consumer_solve_field_step_test consumer/steps/solve_field_step_test.cpp LIBS tianyu_consumer)
# The masters a consumer keeps for the next frame of the night (issue 17).
tianyu_add_test(consumer_masters_cache_test consumer/steps/masters_cache_test.cpp LIBS tianyu_consumer)
