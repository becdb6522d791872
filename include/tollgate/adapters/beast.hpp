// SPDX-License-Identifier: MIT
// The Boost.Beast adapter: request/response types, the streamed writer, the Asio operation and a
// small server. Including this header is the opt-in; the core never includes Beast or Asio.
#ifndef TOLLGATE_ADAPTERS_BEAST_HPP
#define TOLLGATE_ADAPTERS_BEAST_HPP

#include <tollgate/adapters/asio.hpp>
#include <tollgate/adapters/beast/message.hpp>
#include <tollgate/adapters/beast/server.hpp>
#include <tollgate/adapters/beast/write_response.hpp>

#endif  // TOLLGATE_ADAPTERS_BEAST_HPP
