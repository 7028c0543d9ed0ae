# The solve_field step (issue 16) with the in-memory observation store; runs solve-field.
tianyu_add_test(consumer_solve_field_step_test consumer/steps/solve_field_step_test.cpp LIBS tianyu_consumer)
# The consumer's master cache (issue 17: masters read once a process, not once a frame).
tianyu_add_test(consumer_master_cache_test consumer/steps/master_cache_test.cpp LIBS tianyu_consumer)
