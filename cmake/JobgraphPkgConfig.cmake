# pkg-config files for programs built without CMake: jobgraph.pc, and jobgraph-services.pc when
# the built-in services are built. Paths are relative to the .pc file's own folder, so they stay
# right whatever prefix `cmake --install --prefix` is given.
#
# pkg-config leaves Requires.private and Libs.private out of `--libs` unless asked for --static.
# A shared libjobgraph records its own link to SQLite, so sqlite3 is private there; a static
# libjobgraph.a records nothing, so every program that links it needs -lsqlite3 and sqlite3 is
# a plain requirement.
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}" OR IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
  set(JOBGRAPH_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
else()
  file(RELATIVE_PATH pc_to_prefix "/prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/prefix")
  string(REGEX REPLACE "/$" "" pc_to_prefix "${pc_to_prefix}")
  set(JOBGRAPH_PC_PREFIX "\${pcfiledir}/${pc_to_prefix}")
endif()
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  set(JOBGRAPH_PC_LIBDIR "${CMAKE_INSTALL_LIBDIR}")
else()
  set(JOBGRAPH_PC_LIBDIR "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
endif()
if(IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
  set(JOBGRAPH_PC_INCLUDEDIR "${CMAKE_INSTALL_INCLUDEDIR}")
else()
  set(JOBGRAPH_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
endif()

# Boost.Graph is headers only and ships no .pc file: name its folder unless the compiler
# searches it anyway.
set(JOBGRAPH_PC_CFLAGS "-I\${includedir}")
foreach(dir IN LISTS Boost_INCLUDE_DIRS)
  if(NOT dir IN_LIST CMAKE_CXX_IMPLICIT_INCLUDE_DIRECTORIES)
    string(APPEND JOBGRAPH_PC_CFLAGS " -I${dir}")
  endif()
endforeach()

# With PostgresStore built in, libpq joins SQLite.
set(jobgraph_pc_private "sqlite3")
if(JOBGRAPH_WITH_POSTGRES)
  string(APPEND jobgraph_pc_private " libpq")
endif()
if(JOBGRAPH_STATIC)
  set(JOBGRAPH_PC_REQUIRES "Requires: fmt nlohmann_json ${jobgraph_pc_private}")
else()
  set(JOBGRAPH_PC_REQUIRES "Requires: fmt nlohmann_json\nRequires.private: ${jobgraph_pc_private}")
endif()

configure_file(${CMAKE_CURRENT_LIST_DIR}/jobgraph.pc.in ${PROJECT_BINARY_DIR}/jobgraph.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/jobgraph.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
if(TARGET jobgraph_services)
  # A static jobgraph_services leaves libcurl for the program to link.
  set(JOBGRAPH_PC_SERVICES_REQUIRES "")
  if(JOBGRAPH_WITH_CURL)
    set(JOBGRAPH_PC_SERVICES_REQUIRES ", libcurl")
  endif()
  configure_file(${CMAKE_CURRENT_LIST_DIR}/jobgraph-services.pc.in ${PROJECT_BINARY_DIR}/jobgraph-services.pc @ONLY)
  install(FILES ${PROJECT_BINARY_DIR}/jobgraph-services.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
endif()
