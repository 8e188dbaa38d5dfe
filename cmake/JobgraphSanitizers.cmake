# JOBGRAPH_SANITIZE=thread or address (address also turns on undefined-behaviour checks).
# Applies to every target of the build, so the library and the tests are instrumented alike.
set(JOBGRAPH_SANITIZE "" CACHE STRING "Sanitizer to build with: thread, address or empty")
set_property(CACHE JOBGRAPH_SANITIZE PROPERTY STRINGS "" thread address)

if(JOBGRAPH_SANITIZE STREQUAL "thread")
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer)
  add_link_options(-fsanitize=thread)
elseif(JOBGRAPH_SANITIZE STREQUAL "address")
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
elseif(NOT JOBGRAPH_SANITIZE STREQUAL "")
  message(FATAL_ERROR "JOBGRAPH_SANITIZE must be thread, address or empty, not '${JOBGRAPH_SANITIZE}'")
endif()
