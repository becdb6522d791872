// SPDX-License-Identifier: MIT
// stream_observer: how a framework adapter tells metered what a streamed response delivered.
#ifndef TOLLGATE_HTTP_STREAM_HPP
#define TOLLGATE_HTTP_STREAM_HPP

#include <cstddef>
#include <string_view>

namespace tollgate {

/// Receives the life of a streamed response body, so its lock is settled after the last chunk.
/// An adapter whose response can stream implements `response_traits<T>::observe_stream(res, observer)`:
/// if the handler left a stream on the response, it wraps it, reports every chunk the client
/// accepted (`delivered`), any exception the stream threw (`failed`, after which the stream is
/// aborted), and calls `finished` exactly once when the stream ends, completed or not.
class stream_observer {
 public:
  virtual ~stream_observer() = default;
  virtual void delivered(std::size_t bytes) noexcept = 0;
  virtual void failed(std::string_view why) noexcept = 0;
  virtual void finished(bool completed) noexcept = 0;
};

}  // namespace tollgate

#endif  // TOLLGATE_HTTP_STREAM_HPP
