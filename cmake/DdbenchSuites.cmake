# ddbench_add_suites(<suites dir>)
# Registers every suite file under the directory as one ctest test that runs it at a tier and checks
# its bands. How is data in the suite itself, so a new paper's folder needs no CMake edit: a suite with
#   ctest: {tier: cpu, labels: [smoke, matching], timeout: 1800}
# runs at that tier with those labels; a suite without it runs at the paper tier with the labels
# paper, <folder> and <folder>.<file> and a one-day timeout. Cells that cannot run here (missing
# dataset, no GPU) make the test report SKIPPED with the reason (exit code 77), never passed; an
# invalid cell fails it. Re-run cmake after adding a suite file.
function(ddbench_add_suites dir)
  file(GLOB_RECURSE suites CONFIGURE_DEPENDS ${dir}/*.yaml)
  foreach(suite ${suites})
    get_filename_component(stem ${suite} NAME_WE)
    get_filename_component(folder_path ${suite} DIRECTORY)
    get_filename_component(folder ${folder_path} NAME)
    file(STRINGS ${suite} header REGEX "^ctest:" LIMIT_COUNT 1)
    if(header)
      string(REGEX MATCH "tier: *([a-z0-9_]+)" _ "${header}")
      set(tier ${CMAKE_MATCH_1})
      string(REGEX MATCH "timeout: *([0-9]+)" _ "${header}")
      set(timeout ${CMAKE_MATCH_1})
      string(REGEX MATCH "labels: *\\[([^]]*)\\]" _ "${header}")
      string(REGEX REPLACE " *, *" ";" labels "${CMAKE_MATCH_1}")
    else()
      set(tier paper)
      set(timeout 86400)
      set(labels "paper;${folder};${folder}.${stem}")
    endif()
    if(NOT tier)
      set(tier paper)
    endif()
    if(NOT timeout)
      set(timeout 3600)
    endif()
    file(RELATIVE_PATH rel ${CMAKE_SOURCE_DIR} ${suite})
    string(REGEX REPLACE "\\.ya?ml$" "" name ${rel})
    string(REGEX REPLACE "^suites/" "" name ${name})
    string(REPLACE "/" "." name ${name})
    set(test_name "suite.${name}.${tier}")
    add_test(NAME ${test_name}
             COMMAND ddbench ctest-suite ${suite} --tier ${tier}
                     --results ${CMAKE_BINARY_DIR}/ctest-results/${name}
             WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
    set_tests_properties(${test_name} PROPERTIES
      LABELS "suite;${tier};${labels}"
      SKIP_RETURN_CODE 77
      TIMEOUT ${timeout}
      # A suite trains networks on every core: ctest -j2 must not run a second test beside it, and
      # OpenMP threads must sleep rather than spin when they wait (spinning made runs up to 10x slower).
      PROCESSORS 2
      ENVIRONMENT OMP_WAIT_POLICY=passive)
  endforeach()
endfunction()
