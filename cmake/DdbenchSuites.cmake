# ddbench_add_suite(<suite.yaml> TIER <tier> LABELS <label>...)
# Registers a suite as one ctest test that runs it at the given tier and checks its bands.
# Cells that cannot run (missing dataset, needs a GPU) make the test report SKIPPED with the
# reason (exit code 77), never passed.
function(ddbench_add_suite suite)
  cmake_parse_arguments(ARG "" "TIER;TIMEOUT" "LABELS" ${ARGN})
  if(NOT ARG_TIER)
    set(ARG_TIER cpu)
  endif()
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 3600)
  endif()
  file(RELATIVE_PATH rel ${CMAKE_SOURCE_DIR} ${suite})
  string(REGEX REPLACE "\\.ya?ml$" "" name ${rel})
  string(REGEX REPLACE "^suites/" "" name ${name})
  string(REPLACE "/" "." name ${name})
  set(test_name "suite.${name}.${ARG_TIER}")
  add_test(NAME ${test_name}
           COMMAND ddbench ctest-suite ${suite} --tier ${ARG_TIER}
                   --results ${CMAKE_BINARY_DIR}/ctest-results/${name}
           WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
  set_tests_properties(${test_name} PROPERTIES
    LABELS "suite;${ARG_TIER};${ARG_LABELS}"
    SKIP_RETURN_CODE 77
    TIMEOUT ${ARG_TIMEOUT}
    # A suite trains networks on every core: ctest -j2 must not run a second test beside it, and
    # OpenMP threads must sleep rather than spin when they wait (spinning made runs up to 10x slower).
    PROCESSORS 2
    ENVIRONMENT OMP_WAIT_POLICY=passive)
endfunction()
