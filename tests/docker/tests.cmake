# The site deployment brought up in containers (scripts/site.sh, podman or docker, no registry):
# a simulated night through it, a consumer container killed mid-step, the light curves counted
# in the database container against scripts/run-local.sh. Skips (77) naming why when containers
# cannot run here. The service image copies this build's executables (target `prebuilt`), so
# the project is not compiled a second time inside the image; images stay cached between runs.
add_test(NAME docker.site_runs_a_night_in_containers
  COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/site_e2e_test.sh ${CMAKE_SOURCE_DIR} $<TARGET_FILE_DIR:tianyu-consumer>)
set_tests_properties(docker.site_runs_a_night_in_containers PROPERTIES
  FAIL_REGULAR_EXPRESSION "FAIL:" SKIP_RETURN_CODE 77 TIMEOUT 1200 RUN_SERIAL TRUE)
