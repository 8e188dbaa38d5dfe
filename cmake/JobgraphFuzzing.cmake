# JOBGRAPH_BUILD_FUZZERS=ON builds the libFuzzer targets of tests/fuzz. libFuzzer ships with
# Clang, so the option needs clang++. Every target of the build (the library included) is then
# instrumented for coverage and built with AddressSanitizer and UndefinedBehaviorSanitizer, so
# that the fuzzers see into the library and a fault in it stops the run.
option(JOBGRAPH_BUILD_FUZZERS "Build the libFuzzer targets in tests/fuzz (needs clang++)" OFF)

if(JOBGRAPH_BUILD_FUZZERS)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "JOBGRAPH_BUILD_FUZZERS needs Clang (libFuzzer), but the C++ compiler is "
                        "${CMAKE_CXX_COMPILER_ID}: configure with CXX=clang++ (e.g. clang++-14)")
  endif()
  if(NOT JOBGRAPH_SANITIZE STREQUAL "")
    message(FATAL_ERROR "JOBGRAPH_BUILD_FUZZERS brings its own sanitizers: leave JOBGRAPH_SANITIZE empty")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
                      -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()
