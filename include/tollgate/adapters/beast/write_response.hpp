// SPDX-License-Identifier: MIT
// Writes a tollgate::beast::response, streamed or not, and tells its observer what was delivered.
#ifndef TOLLGATE_ADAPTERS_BEAST_WRITE_RESPONSE_HPP
#define TOLLGATE_ADAPTERS_BEAST_WRITE_RESPONSE_HPP

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <exception>
#include <memory>
#include <optional>
#include <utility>

#include <boost/asio/compose.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/chunk_encode.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/write.hpp>

#include <tollgate/adapters/beast/message.hpp>

namespace tollgate::beast {

namespace detail {

// The states of one response write; a streamed body loops through `next_chunk` and `chunk_written`.
template <class Stream>
class write_response_op {
 public:
  write_response_op(Stream& stream, response& res, bool head_only, std::optional<std::chrono::milliseconds> per_write)
      : stream_(stream), res_(res), head_only_(head_only), per_write_(per_write) {}

  template <class Self>
  void operator()(Self& self, boost::beast::error_code ec = {}, std::size_t = 0) {
    switch (step_) {
      case step::start:
        return start(self);
      case step::whole_written:
        return self.complete(ec);
      case step::head_written:  // HEAD of a stream: nothing of it is sent, so nothing is priced
        if (const auto observer = res_.observer(); observer && !ec) observer->finished(true);
        if (ec) return fail(self, ec);
        return self.complete(ec);
      case step::header_written:
      case step::waited:
        if (ec) return fail(self, ec);
        return next_chunk(self);
      case step::chunk_written:
        if (ec) return fail(self, ec);
        if (const auto& observer = res_.observer()) observer->delivered(state_->sink.pending().size());
        if (state_->sink.is_done()) return write_last(self);
        return next_chunk(self);
      case step::last_written:
        if (ec) return fail(self, ec);
        if (const auto observer = res_.observer()) observer->finished(true);
        return self.complete(ec);
    }
  }

 private:
  enum class step { start, whole_written, head_written, header_written, waited, chunk_written, last_written };

  // What a streamed or header-only write keeps between steps; on the heap, as the op is moved.
  struct stream_state {
    explicit stream_state(const typename Stream::executor_type& executor) : timer(executor) {}
    http::response<http::empty_body> head;
    std::optional<http::response_serializer<http::empty_body>> serializer;
    chunk_sink sink;
    boost::asio::steady_timer timer;  // paces a source that has nothing yet
    std::chrono::milliseconds backoff{0};
    std::chrono::steady_clock::time_point idle_since{};
  };

  // A deadline for each write, so a client that stops reading a long stream is dropped.
  void arm_timer() {
    if constexpr (requires { stream_.expires_after(std::chrono::milliseconds(1)); }) {
      if (per_write_) stream_.expires_after(*per_write_);
    }
  }

  template <class Self>
  void start(Self& self) {
    arm_timer();
    if (!res_.streams() && !head_only_) {
      res_.prepare_payload();
      step_ = step::whole_written;
      return http::async_write(stream_, static_cast<response::message_type&>(res_), std::move(self));
    }
    state_ = std::make_unique<stream_state>(stream_.get_executor());
    auto& head = state_->head;
    head.result(res_.result_int());
    head.version(res_.version());
    for (const auto& field : res_) head.insert(field.name_string(), field.value());  // repeated fields stay
    // HTTP/1.0 has no chunked coding: the body is sent as it comes and the connection's close ends it.
    raw_ = res_.version() < 11;
    if (raw_) {
      head.keep_alive(false);
      res_.keep_alive(false);
    }
    if (head_only_) {  // the headers a GET would send, and no body
      if (res_.streams()) {
        if (!raw_) head.chunked(true);
        res_.source() = nullptr;
        step_ = step::head_written;
      } else {
        head.content_length(res_.body().size());
        step_ = step::whole_written;
      }
      state_->serializer.emplace(head);
      return http::async_write_header(stream_, *state_->serializer, std::move(self));
    }
    if (!raw_) head.chunked(true);
    step_ = step::header_written;
    state_->serializer.emplace(head);
    http::async_write_header(stream_, *state_->serializer, std::move(self));
  }

  template <class Self>
  void next_chunk(Self& self) {
    chunk_sink& sink = state_->sink;
    sink.pending().clear();
    bool keep_going = false;
    try {
      keep_going = res_.source()(sink);
    } catch (const std::exception& e) {
      if (const auto& observer = res_.observer()) observer->failed(e.what());
    } catch (...) {
      if (const auto& observer = res_.observer()) observer->failed("unknown exception");
    }
    if (!keep_going) return fail(self, boost::asio::error::operation_aborted);
    if (sink.pending().empty()) {
      if (sink.is_done()) return write_last(self);
      return wait_for_source(self);
    }
    state_->backoff = std::chrono::milliseconds(0);
    step_ = step::chunk_written;
    arm_timer();
    if (raw_) return boost::asio::async_write(stream_, boost::asio::buffer(sink.pending()), std::move(self));
    boost::asio::async_write(stream_, http::make_chunk(boost::asio::buffer(sink.pending())), std::move(self));
  }

  // The source has nothing yet: ask again after a pause that doubles up to 50 ms, so waiting for
  // an upstream costs no CPU; a source silent for longer than the write timeout ends the stream.
  template <class Self>
  void wait_for_source(Self& self) {
    const auto now = std::chrono::steady_clock::now();
    if (state_->backoff.count() == 0) state_->idle_since = now;
    if (per_write_ && now - state_->idle_since > *per_write_) return fail(self, boost::asio::error::timed_out);
    state_->backoff = std::min(std::max(state_->backoff * 2, std::chrono::milliseconds(1)), std::chrono::milliseconds(50));
    step_ = step::waited;
    state_->timer.expires_after(state_->backoff);
    state_->timer.async_wait(std::move(self));
  }

  template <class Self>
  void write_last(Self& self) {
    if (raw_) {  // HTTP/1.0: closing the connection ends the body
      if (const auto observer = res_.observer()) observer->finished(true);
      return self.complete(boost::beast::error_code{});
    }
    step_ = step::last_written;
    arm_timer();
    boost::asio::async_write(stream_, http::make_chunk_last(), std::move(self));
  }

  template <class Self>
  void fail(Self& self, boost::beast::error_code ec) {
    if (const auto observer = res_.observer()) observer->finished(false);  // charges what was delivered
    self.complete(ec);
  }

  Stream& stream_;
  response& res_;
  bool head_only_;
  bool raw_ = false;
  std::optional<std::chrono::milliseconds> per_write_;
  step step_ = step::start;
  std::unique_ptr<stream_state> state_;
};

}  // namespace detail

/// Writes `res` to `stream`: `body()` as is, or a streamed body (set_chunked_content) chunk by
/// chunk, reporting each chunk the stream accepted and the end to the response's observer, so a
/// metered stream is settled after its last chunk, or for what was delivered when the client goes
/// away. `head_only` sends the headers a GET would (HEAD). Completion: `void(error_code)`; `res`
/// must live until then. With `per_write_timeout` on a `beast::tcp_stream`, each write (a chunk)
/// must finish within it, so a client that stops reading is dropped.
template <class AsyncWriteStream, class CompletionToken>
auto async_write_response(AsyncWriteStream& stream, response& res, bool head_only,
                          std::optional<std::chrono::milliseconds> per_write_timeout, CompletionToken&& token) {
  return boost::asio::async_compose<CompletionToken, void(boost::beast::error_code)>(
      detail::write_response_op<AsyncWriteStream>(stream, res, head_only, per_write_timeout), token, stream);
}
template <class AsyncWriteStream, class CompletionToken>
auto async_write_response(AsyncWriteStream& stream, response& res, bool head_only, CompletionToken&& token) {
  return async_write_response(stream, res, head_only, std::nullopt, std::forward<CompletionToken>(token));
}

}  // namespace tollgate::beast

#endif  // TOLLGATE_ADAPTERS_BEAST_WRITE_RESPONSE_HPP
