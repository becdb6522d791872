// SPDX-License-Identifier: MIT
// metered's non-blocking path as an Asio asynchronous operation (opt-in: includes Boost.Asio).
#ifndef TOLLGATE_ADAPTERS_ASIO_HPP
#define TOLLGATE_ADAPTERS_ASIO_HPP

#include <utility>

#include <boost/asio/async_result.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/execution.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>

#include <tollgate/unique_function.hpp>

namespace tollgate::asio {

/// A route `async_call` can serve: a `metered<...>` (or anything with its `async_call`).
template <class Route, class Request, class Response>
concept async_route = requires(const Route& route, const Request& req, Response& res) {
  route.async_call(req, res, [](unique_task) {}, [] {});
};

/// Serves `req` into `res` through `route` without blocking the caller: every step after the
/// ledger's answer runs on `executor` (give it the connection's strand), and the completion —
/// signature `void()` — is delivered there (or on the token's associated executor) once `res` is
/// complete. Any Asio completion token works: a callback, `asio::use_awaitable`, `asio::use_future`.
/// `req` and `res` must live until it completes.
///
///     co_await tollgate::asio::async_call(route, req, res, stream.get_executor(), asio::use_awaitable);
///     co_await tollgate::beast::async_write_response(stream, res, false, asio::use_awaitable);  // streams settle
template <class Route, class Request, class Response, class Executor, class CompletionToken>
  requires async_route<Route, Request, Response>
auto async_call(const Route& route, const Request& req, Response& res, Executor executor, CompletionToken&& token) {
  return boost::asio::async_initiate<CompletionToken, void()>(
      [](auto handler, const Route* route, const Request* req, Response* res, Executor executor) {
        // Keeps the executor's context running while the ledger answers on another thread.
        auto tracked = boost::asio::prefer(executor, boost::asio::execution::outstanding_work.tracked);
        route->async_call(
            *req, *res,
            // dispatch: a ledger that answered inline (memory_ledger) continues at once, on the
            // executor already; an answer from another thread is queued to the executor.
            [executor, tracked](unique_task task) {
              boost::asio::dispatch(executor, [task = std::move(task), tracked]() mutable { std::move(task)(); });
            },
            // Posted even when `done` comes at once (a 401 needs no ledger): Asio completions are
            // never invoked from inside the initiating function.
            [executor, handler = std::move(handler)]() mutable { boost::asio::post(executor, std::move(handler)); });
      },
      token, &route, &req, &res, std::move(executor));
}

}  // namespace tollgate::asio

#endif  // TOLLGATE_ADAPTERS_ASIO_HPP
