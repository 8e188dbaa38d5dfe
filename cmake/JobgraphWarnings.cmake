# Warnings are errors in jobgraph's own code. Third-party headers come in as system includes
# through their imported targets, so their warnings stay out of it, with one exception:
# GCC 12 reports -Wmaybe-uninitialized false positives from Boost.Graph's adjacency_list
# after inlining it into our functions, where the system-header exemption no longer applies.
function(jobgraph_set_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Werror)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    target_compile_options(${target} PRIVATE -Wno-maybe-uninitialized)
  endif()
endfunction()
