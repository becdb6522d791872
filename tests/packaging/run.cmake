# Installs tollgate into a scratch prefix, then builds consumers through every route, each with
# only its component's dependencies visible: CMake find_package (core alone, httplib, redis, and a
# missing dependency that must be named), pkg-config, add_subdirectory, FetchContent, and Meson
# (installed and as a subproject).
file(REMOVE_RECURSE ${BINARY_DIR})
set(prefix ${BINARY_DIR}/prefix)
set(consumers ${SOURCE_DIR}/tests/packaging)

# What a machine without the other components' dependencies looks like: a pkg-config directory
# holding only what is listed, and nlohmann_json's CMake package switched off.
function(pkg_config_dir name)
  set(dir ${BINARY_DIR}/pkgconfig-${name})
  file(MAKE_DIRECTORY ${dir})
  foreach(module ${ARGN})
    execute_process(COMMAND pkg-config --variable=pcfiledir ${module} OUTPUT_VARIABLE pcdir OUTPUT_STRIP_TRAILING_WHITESPACE)
    file(COPY ${pcdir}/${module}.pc DESTINATION ${dir})
  endforeach()
endfunction()
pkg_config_dir(none)
pkg_config_dir(hiredis hiredis)

function(run what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "packaging: ${what} failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
  set(last_output "${out}${err}" PARENT_SCOPE)
endfunction()

# consumer NAME DIR PKG_CONFIG_LIBDIR EXTRA_CMAKE_ARGS…: configure, build and run a CMake consumer.
function(consumer name dir pkgdir)
  run("${name}: configure" ${CMAKE_COMMAND} -E env PKG_CONFIG_LIBDIR=${pkgdir} PKG_CONFIG_PATH=
      ${CMAKE_COMMAND} -S ${dir} -B ${BINARY_DIR}/${name} -G ${GENERATOR} -DCMAKE_CXX_COMPILER=${CXX}
      -DCMAKE_PREFIX_PATH=${prefix} ${ARGN})
  run("${name}: build" ${CMAKE_COMMAND} --build ${BINARY_DIR}/${name})
endfunction()

run("tollgate: configure" ${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${BINARY_DIR}/tollgate -G ${GENERATOR} -DCMAKE_CXX_COMPILER=${CXX}
    -DTOLLGATE_BUILD_TESTS=OFF -DTOLLGATE_BUILD_EXAMPLES=OFF -DCMAKE_INSTALL_PREFIX=${prefix})
run("tollgate: install" ${CMAKE_COMMAND} --install ${BINARY_DIR}/tollgate)

# 1. The core alone: no JSON library, no cpp-httplib, no hiredis to be found.
consumer(core ${consumers}/core_consumer ${BINARY_DIR}/pkgconfig-none -DCMAKE_DISABLE_FIND_PACKAGE_nlohmann_json=ON)
run("core: run" ${BINARY_DIR}/core/core_consumer)

# 2. COMPONENTS httplib, on a machine with its dependencies.
execute_process(COMMAND pkg-config --variable=pc_path pkg-config OUTPUT_VARIABLE system_pc_path OUTPUT_STRIP_TRAILING_WHITESPACE)
consumer(httplib ${consumers}/consumer ${system_pc_path})
run("httplib: run" ${BINARY_DIR}/httplib/consumer)

# 3. COMPONENTS redis with hiredis alone visible.
consumer(redis ${consumers}/redis_consumer ${BINARY_DIR}/pkgconfig-hiredis -DCMAKE_DISABLE_FIND_PACKAGE_nlohmann_json=ON)
run("redis: run" ${BINARY_DIR}/redis/redis_consumer)

# 4. COMPONENTS httplib without cpp-httplib: refused, and the message names what is missing.
execute_process(COMMAND ${CMAKE_COMMAND} -E env PKG_CONFIG_LIBDIR=${BINARY_DIR}/pkgconfig-none PKG_CONFIG_PATH=
                ${CMAKE_COMMAND} -S ${consumers}/missing_httplib -B ${BINARY_DIR}/missing -G ${GENERATOR}
                -DCMAKE_CXX_COMPILER=${CXX} -DCMAKE_PREFIX_PATH=${prefix}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(rc EQUAL 0 OR NOT "${out}${err}" MATCHES "needs cpp-httplib")
  message(FATAL_ERROR "packaging: a missing cpp-httplib was not reported by name (${rc}):\n${out}\n${err}")
endif()

# 5. pkg-config: the httplib consumer compiled by hand with tollgate-httplib.pc's flags.
run("pkg-config" ${CMAKE_COMMAND} -E env PKG_CONFIG_PATH=${prefix}/share/pkgconfig
    pkg-config --cflags --libs tollgate-httplib)
string(STRIP "${last_output}" flags)
separate_arguments(flags UNIX_COMMAND "${flags}")
run("pkg-config: build" ${CXX} ${consumers}/consumer/main.cpp ${flags} -o ${BINARY_DIR}/pkg_config_consumer)
run("pkg-config: run" ${BINARY_DIR}/pkg_config_consumer)

# 6. CMake without installing: add_subdirectory and FetchContent.
foreach(route subdirectory fetchcontent)
  consumer(${route} ${consumers}/embedded_consumer ${system_pc_path} -DROUTE=${route} -DTOLLGATE_SOURCE_DIR=${SOURCE_DIR})
  run("${route}: run" ${BINARY_DIR}/${route}/embedded_consumer)
endforeach()

# 7. Meson: the same program through dependency('tollgate-httplib'), installed (pkg-config) and as a
#    subproject (subprojects/tollgate pointing at this source tree).
find_program(MESON meson)
if(MESON)
  foreach(route installed subproject)
    set(src ${BINARY_DIR}/meson-${route})
    file(MAKE_DIRECTORY ${src})
    file(COPY ${consumers}/meson_consumer/meson.build ${consumers}/consumer/main.cpp DESTINATION ${src})
    if(route STREQUAL "installed")
      set(env PKG_CONFIG_PATH=${prefix}/share/pkgconfig)
      set(options "")
    else()
      file(MAKE_DIRECTORY ${src}/subprojects)
      file(CREATE_LINK ${SOURCE_DIR} ${src}/subprojects/tollgate SYMBOLIC)
      set(env PKG_CONFIG_PATH=)
      set(options --force-fallback-for=tollgate-httplib)
    endif()
    run("meson ${route}: setup" ${CMAKE_COMMAND} -E env ${env} CXX=${CXX} ${MESON} setup ${options} ${src}/build ${src})
    run("meson ${route}: build" ${MESON} compile -C ${src}/build)
    run("meson ${route}: run" ${src}/build/meson_consumer)
  endforeach()
else()
  message(FATAL_ERROR "packaging: meson not found (scripts/install-deps.sh installs it)")
endif()

message(STATUS "packaging: core, httplib, redis, pkg-config, add_subdirectory, FetchContent and Meson (installed, "
               "subproject) consumers built and ran; "
               "a missing dependency is named")
