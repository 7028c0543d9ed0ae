# The solve_field step (issue 16) with the in-memory observation store; runs solve-field.
tianyu_add_test(consumer_solve_field_step_test consumer/steps/solve_field_step_test.cpp LIBS tianyu_consumer)
