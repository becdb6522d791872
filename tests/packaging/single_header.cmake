# The single headers as a user copies them: only files from single_include/ in a scratch directory,
# compiled with the compiler directly (no tollgate CMake target, no include/ on the path), linked with
# the dependencies' own flags, then run.
#   1. tollgate.hpp + httplib.hpp: two files meter an httplib route over loopback HTTP.
#   2. every single header together: the billing endpoint answers a signed request; Redis links.
file(REMOVE_RECURSE ${BINARY_DIR})
set(copy ${BINARY_DIR}/copy)

function(run what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "single header: ${what} failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
  message(STATUS "single header: ${what}: ${out}")
endfunction()

function(pkg_flags out)
  execute_process(COMMAND pkg-config --cflags --libs ${ARGN} OUTPUT_VARIABLE flags RESULT_VARIABLE rc
                  OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "single header: pkg-config ${ARGN} failed")
  endif()
  separate_arguments(flags UNIX_COMMAND "${flags}")
  set(${out} ${flags} PARENT_SCOPE)
endfunction()
pkg_flags(httplib_flags cpp-httplib)
pkg_flags(hiredis_flags hiredis)
set(compile ${CXX} -std=c++20 -Wall -Wextra -Wpedantic -Werror -I${copy})

# 1. Two files.
file(COPY ${SOURCE_DIR}/single_include/tollgate/tollgate.hpp ${SOURCE_DIR}/single_include/tollgate/httplib.hpp
     DESTINATION ${copy}/tollgate)
run("two files: build" ${compile} ${CMAKE_CURRENT_LIST_DIR}/single_header_consumer/metered_route.cpp
    -o ${BINARY_DIR}/metered_route ${httplib_flags} -lfmt -lcrypto -pthread)
run("two files: run" ${BINARY_DIR}/metered_route)

# 2. All of them.
file(COPY ${SOURCE_DIR}/single_include/tollgate/ DESTINATION ${copy}/tollgate)
run("every part: build" ${compile} ${CMAKE_CURRENT_LIST_DIR}/single_header_consumer/other_parts.cpp
    -o ${BINARY_DIR}/other_parts ${httplib_flags} ${hiredis_flags} -lfmt -lcrypto -pthread)
run("every part: run" ${BINARY_DIR}/other_parts)
