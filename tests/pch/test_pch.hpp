// The test programs' precompiled header (tests/CMakeLists.txt, tests/meson.build): third-party and
// standard headers only, which nearly every test TU re-parses (cpp-httplib, nlohmann/json, Asio/Beast,
// doctest, fmt). Never tollgate's own headers: each test must still include what it uses of tollgate,
// and the self-contained header check (no PCH) proves every public header includes what it needs.
// Only test programs that link tollgate::httplib use it (their flags match the PCH's); doctest's
// main() (doctest_main.cpp) and the README snippets never do.
#ifndef TOLLGATE_TESTS_PCH_HPP
#define TOLLGATE_TESTS_PCH_HPP

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>  // before Boost 1.74's awaitable.hpp, which uses std::exchange without it
#include <vector>

#include <doctest/doctest.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <httplib.h>

#include <boost/hana/bool.hpp>
#include <boost/hana/find_if.hpp>
#include <boost/hana/optional.hpp>
#include <boost/hana/tuple.hpp>
#include <boost/hana/type.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#endif
