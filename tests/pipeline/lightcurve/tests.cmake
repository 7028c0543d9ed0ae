# Light curves as FITS tables (issue 16): pure code, no services.
tianyu_add_test(pipeline_lightcurve_fits_test ${CMAKE_CURRENT_LIST_DIR}/fits_light_curve_test.cpp LIBS tianyu_pipeline)
# The same synthetic light curves as CSV and FITS, for the checks below.
add_executable(lightcurve_example ${CMAKE_CURRENT_LIST_DIR}/lightcurve_example.cpp)
target_link_libraries(lightcurve_example PRIVATE tianyu_pipeline)
# A TESS user's view: astropy's Table.read(path, hdu='LIGHTCURVE') (skipped without astropy).
add_test(NAME pipeline_lightcurve_opens_in_astropy
  COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/fits_lightcurve_check.py astropy
          $<TARGET_FILE:lightcurve_example> ${CMAKE_CURRENT_BINARY_DIR}/lightcurve_astropy)
set_tests_properties(pipeline_lightcurve_opens_in_astropy PROPERTIES FAIL_REGULAR_EXPRESSION "FAIL:" SKIP_RETURN_CODE 77)
# tianyu-transit fit and search find the same transit in the FITS file as in the CSV.
add_test(NAME pipeline_lightcurve_transit_reads_fits
  COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/fits_lightcurve_check.py transit
          $<TARGET_FILE:lightcurve_example> $<TARGET_FILE:tianyu-transit> ${CMAKE_CURRENT_BINARY_DIR}/lightcurve_transit)
set_tests_properties(pipeline_lightcurve_transit_reads_fits PROPERTIES FAIL_REGULAR_EXPRESSION "FAIL:")
