# The libFuzzer targets and their ctest wiring, shared by fuzz/CMakeLists.txt (standalone
# clang project) and the top-level CMakeLists.txt (PARLEY_FUZZ=ON builds fuzz/ with clang as an
# external project and registers the same tests in the main tree).
set(PARLEY_FUZZ_TARGETS client_frame http_request store_codec sync_cursor byte_range node_frame)

# PARLEY_FUZZ_RUNS: mutations per target in the ctest run (a smoke run; docs/fuzzing.md has the
# commands for long runs).
set(PARLEY_FUZZ_RUNS 20000 CACHE STRING "libFuzzer -runs for the ctest fuzz tests")

# One ctest test per target, labelled `fuzz`: replays every seed (fuzz/corpus/<target>/) and
# every saved regression input (fuzz/regressions/<target>/), then mutates for
# PARLEY_FUZZ_RUNS runs with a fixed seed, so a CI run is repeatable. New inputs go to a
# scratch directory in the build tree, never into the repository's corpus.
function(parley_add_fuzz_tests bin_dir)
  set(src ${PARLEY_FUZZ_SOURCE_DIR})
  foreach(t ${PARLEY_FUZZ_TARGETS})
    set(scratch ${CMAKE_BINARY_DIR}/fuzz-scratch/${t})
    file(MAKE_DIRECTORY ${scratch}/corpus ${scratch}/artifacts)
    set(inputs ${src}/corpus/${t})
    if(EXISTS ${src}/regressions/${t})
      list(APPEND inputs ${src}/regressions/${t})
    endif()
    add_test(NAME fuzz_${t}
      COMMAND ${bin_dir}/fuzz_${t} -seed=1 -runs=${PARLEY_FUZZ_RUNS} -timeout=10
              -artifact_prefix=${scratch}/artifacts/ -print_final_stats=1
              ${scratch}/corpus ${inputs})
    set_tests_properties(fuzz_${t} PROPERTIES LABELS fuzz TIMEOUT 300)
  endforeach()
endfunction()
