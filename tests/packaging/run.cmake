# Installs tollgate into a scratch prefix, then builds a consumer that uses find_package(tollgate).
file(REMOVE_RECURSE ${BINARY_DIR})
set(prefix ${BINARY_DIR}/prefix)
foreach(step
    "${CMAKE_COMMAND};-S;${SOURCE_DIR};-B;${BINARY_DIR}/tollgate;-G;${GENERATOR};-DCMAKE_CXX_COMPILER=${CXX};-DTOLLGATE_BUILD_TESTS=OFF;-DTOLLGATE_BUILD_EXAMPLES=OFF;-DCMAKE_INSTALL_PREFIX=${prefix}"
    "${CMAKE_COMMAND};--install;${BINARY_DIR}/tollgate"
    "${CMAKE_COMMAND};-S;${SOURCE_DIR}/tests/packaging/consumer;-B;${BINARY_DIR}/consumer;-G;${GENERATOR};-DCMAKE_CXX_COMPILER=${CXX};-DCMAKE_PREFIX_PATH=${prefix}"
    "${CMAKE_COMMAND};--build;${BINARY_DIR}/consumer"
    "${BINARY_DIR}/consumer/consumer")
  execute_process(COMMAND ${step} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "packaging step failed (${rc}): ${step}\n${out}\n${err}")
  endif()
endforeach()
message(STATUS "consumer built against the installed package and ran: ${out}")
