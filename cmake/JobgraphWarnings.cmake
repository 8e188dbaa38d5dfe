# Warnings are on for jobgraph's own targets in every build. They become errors only with
# -DJOBGRAPH_WERROR=ON (as CI does), so a user's build never fails because a newer compiler
# finds something new to say. Third-party headers come in as system includes through their
# imported targets, so their warnings stay out of it, with one exception: GCC 12 reports
# -Wmaybe-uninitialized false positives from Boost.Graph's adjacency_list after inlining it
# into our functions, where the system-header exemption no longer applies; and in optimised
# builds it reports -Wrestrict inside std::string's operator+ ("literal" + a temporary string,
# GCC bug 105329), also from inlined library code.
option(JOBGRAPH_WERROR "Treat compiler warnings in jobgraph's own targets as errors" OFF)

function(jobgraph_set_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic)
  if(JOBGRAPH_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    target_compile_options(${target} PRIVATE -Wno-maybe-uninitialized -Wno-restrict)
  endif()
endfunction()
