# Astrometry (issue 16): TAN-SIP arithmetic, and solve-field on the real HAT-P-32 night and on
# fields that cannot solve (solve-field runs as a subprocess through the platform runner).
tianyu_add_test(pipeline_astrometry_test pipeline/astrometry/wcs_test.cpp pipeline/astrometry/solve_test.cpp
  LIBS tianyu_pipeline tianyu_common)
