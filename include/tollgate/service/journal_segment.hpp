// SPDX-License-Identifier: MIT
// The credit server's journal on disk: segment files of CRC-checked frames, read back with torn-tail detection.
#ifndef TOLLGATE_SERVICE_JOURNAL_SEGMENT_HPP
#define TOLLGATE_SERVICE_JOURNAL_SEGMENT_HPP

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include <boost/crc.hpp>
#include <fmt/format.h>

namespace tollgate::detail {

// A segment file is a 20-byte header followed by frames:
//
//   header  "TGJRNL1\n" (8) | segment number u64 LE (8) | CRC32C of the 16 bytes before, u32 LE (4)
//   frame   body length L u32 LE (4) | CRC32C of the 4 length bytes and the body, u32 LE (4) | body (L)
//   body    one or more records, each: length N u32 LE (4, N ≥ 1) | N bytes
//
// One frame is what one group commit writes with one write() before its fdatasync, so a crash can
// tear only the last frame of the newest segment; a bad frame followed by a good one is damage.
// The file is zero-filled ahead of the frames (preallocated), so that an fdatasync writes data
// only, not the file's size and block map too: zeros after the last frame are its end, not damage.

inline constexpr std::string_view journal_magic = "TGJRNL1\n";
inline constexpr std::size_t journal_header_bytes = 20;
inline constexpr std::size_t journal_frame_header_bytes = 8;
/// The largest frame body written (a bigger group commit is split into several frames) and read.
inline constexpr std::size_t journal_max_frame_bytes = std::size_t{16} << 20;

/// CRC32C (Castagnoli) of `first` followed by `second`, computed by Boost.CRC.
[[nodiscard]] inline std::uint32_t crc32c(std::string_view first, std::string_view second = {}) noexcept {
  boost::crc_optimal<32, 0x1EDC6F41, 0xFFFFFFFF, 0xFFFFFFFF, true, true> crc;
  crc.process_bytes(first.data(), first.size());
  crc.process_bytes(second.data(), second.size());
  return crc.checksum();
}

inline void put_u32(std::string& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}
inline void put_u64(std::string& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}
[[nodiscard]] inline std::uint32_t get_u32(const char* p) noexcept {
  std::uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}
[[nodiscard]] inline std::uint64_t get_u64(const char* p) noexcept {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

/// The header of segment `number`.
[[nodiscard]] inline std::string journal_header(std::uint64_t number) {
  std::string out(journal_magic);
  put_u64(out, number);
  put_u32(out, crc32c(out));
  return out;
}

/// Appends one frame holding `records` (each already prefixed with its u32 length) to `out`.
inline void append_journal_frame(std::string& out, std::string_view records) {
  const std::size_t start = out.size();
  put_u32(out, static_cast<std::uint32_t>(records.size()));
  const std::uint32_t crc = crc32c(std::string_view(out).substr(start, 4), records);
  put_u32(out, crc);
  out.append(records);
}

/// Appends one record, prefixed with its length, to a frame body being built.
inline void append_journal_record(std::string& body, std::string_view record) {
  put_u32(body, static_cast<std::uint32_t>(record.size()));
  body.append(record);
}

/// Damage in a journal that is not a torn tail: the server must not start on it.
struct journal_corrupt : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// What reading a segment found.
struct segment_scan {
  std::uint64_t file_size = 0;
  /// Where the last good frame ends: the file is truncated here before it is appended to again.
  std::uint64_t good_end = 0;
  /// Whether the file ends in a torn frame (or a torn header), dropped: [good_end, file_size).
  /// Zeros after the last frame are preallocated space, not a torn frame.
  bool torn = false;
  /// Whether the header itself is incomplete (a crash while the segment was being created).
  bool torn_header = false;
  std::size_t frames = 0;
  std::size_t records = 0;
};

namespace journal_scan_detail {
// Whether a well-formed frame starts at `at` in `data`.
[[nodiscard]] inline bool frame_valid_at(std::string_view data, std::size_t at) noexcept {
  if (data.size() - at < journal_frame_header_bytes) return false;
  const std::uint32_t length = get_u32(data.data() + at);
  if (length == 0 || length > journal_max_frame_bytes || length > data.size() - at - journal_frame_header_bytes) return false;
  const std::uint32_t expected = get_u32(data.data() + at + 4);
  return crc32c(data.substr(at, 4), data.substr(at + journal_frame_header_bytes, length)) == expected;
}
}  // namespace journal_scan_detail

/// Reads segment `number` from `data` (the whole file `path`, named in messages). Calls
/// `on_record(record, frame_offset)` for every record of every good frame, in order. A bad frame
/// with no good frame after it is a torn tail (reported, not an error); a bad frame followed by a
/// good one, a wrong header, or a good frame whose records do not fill it exactly throw
/// journal_corrupt naming the file and the offset.
inline segment_scan scan_journal_segment(std::string_view data, const std::string& path, std::uint64_t number,
                                         const std::function<void(std::string_view, std::uint64_t)>& on_record) {
  segment_scan scan;
  scan.file_size = data.size();
  if (!data.empty() && data.find_first_not_of('\0') == std::string_view::npos) {
    // Zeros only: an older tollgate preallocated before writing the header, and a crash came between.
    scan.torn = true;
    scan.torn_header = true;
    return scan;
  }
  if (data.size() < journal_header_bytes) {
    // Creating a segment writes its header and syncs it before any frame: a short file is a
    // creation cut short, unless what is there is not the start of a header.
    const std::string expected = journal_header(number);
    if (data != std::string_view(expected).substr(0, data.size()) && !data.empty())
      throw journal_corrupt(fmt::format("journal {}: the header is damaged (a {}-byte file)", path, data.size()));
    scan.torn = !data.empty();
    scan.torn_header = true;
    return scan;
  }
  if (data.substr(0, journal_magic.size()) != journal_magic)
    throw journal_corrupt(fmt::format("journal {}: not a tollgate journal segment (bad magic at offset 0)", path));
  if (crc32c(data.substr(0, 16)) != get_u32(data.data() + 16))
    throw journal_corrupt(fmt::format("journal {}: the header's checksum does not match (offset 16)", path));
  if (get_u64(data.data() + 8) != number)
    throw journal_corrupt(fmt::format("journal {}: the header says segment {}, the file name says {}", path,
                                      get_u64(data.data() + 8), number));
  std::size_t at = journal_header_bytes;
  while (at < data.size()) {
    if (!journal_scan_detail::frame_valid_at(data, at)) {
      if (data.find_first_not_of('\0', at) == std::string_view::npos) break;  // preallocated zeros: the end
      // Torn only if nothing good follows: a crash tears the last write, never one before it.
      for (std::size_t later = at + 1; later + journal_frame_header_bytes <= data.size(); ++later)
        if (journal_scan_detail::frame_valid_at(data, later))
          throw journal_corrupt(fmt::format("journal {}: the frame at offset {} is damaged and a good frame follows at offset {}",
                                            path, at, later));
      scan.torn = true;
      break;
    }
    const std::uint32_t length = get_u32(data.data() + at);
    const std::string_view body = data.substr(at + journal_frame_header_bytes, length);
    std::size_t r = 0;
    while (r < body.size()) {
      if (body.size() - r < 4)
        throw journal_corrupt(fmt::format("journal {}: the frame at offset {} ends inside a record's length", path, at));
      const std::uint32_t n = get_u32(body.data() + r);
      if (n == 0 || n > body.size() - r - 4)
        throw journal_corrupt(fmt::format("journal {}: a record of the frame at offset {} has a bad length {}", path, at, n));
      on_record(body.substr(r + 4, n), at);
      ++scan.records;
      r += 4 + n;
    }
    ++scan.frames;
    at += journal_frame_header_bytes + length;
  }
  scan.good_end = at;
  return scan;
}

/// A journal segment file open for appending. Only one thread writes it at a time (the group
/// commit's leader); the file is closed with the last reference. Space is zero-filled
/// `preallocation` bytes ahead of the data, so that the syncs of appends need no metadata update.
class segment_file {
 public:
  static constexpr std::uint64_t preallocation = std::uint64_t{1} << 20;

  /// Creates segment `number` at `path` (mode 0600: records name credentials), writes its header
  /// and preallocates, syncs it and its directory entry. Replaces a file of that name (an earlier
  /// creation cut short).
  static std::shared_ptr<segment_file> create(const std::string& path, std::uint64_t number) {
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) throw_errno("cannot create", path);
    auto file = std::shared_ptr<segment_file>(new segment_file(path, number, fd, 0, 0));
    // The header goes in before the preallocated zeros: a crash while zero-filling (a megabyte,
    // slow enough to be hit by a kill) must leave a segment with its header, not a file of zeros.
    const std::string header = journal_header(number);
    file->write_at(0, header);
    file->size_ = file->allocated_ = header.size();
    file->extend(header.size() + preallocation);
    if (::fsync(fd) != 0) throw_errno("cannot fsync", path);
    sync_directory_of(path);
    return file;
  }

  /// Opens segment `number` at `path` to append after its last good frame: a torn tail beyond it
  /// is cut off (and the cut synced) first; a torn header is written again.
  static std::shared_ptr<segment_file> reopen(const std::string& path, std::uint64_t number, const segment_scan& scan) {
    if (scan.torn_header) return create(path, number);
    const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) throw_errno("cannot open", path);
    auto file = std::shared_ptr<segment_file>(new segment_file(path, number, fd, scan.good_end, scan.file_size));
    if (scan.torn) {
      if (::ftruncate(fd, static_cast<off_t>(scan.good_end)) != 0) throw_errno("cannot truncate", path);
      if (::fsync(fd) != 0) throw_errno("cannot fsync", path);
      file->allocated_ = scan.good_end;
    }
    return file;
  }

  segment_file(const segment_file&) = delete;
  segment_file& operator=(const segment_file&) = delete;
  ~segment_file() { ::close(fd_); }

  /// Writes all of `bytes` after the data (zero-filling ahead first when the preallocated space
  /// runs out); throws std::runtime_error naming the file.
  void write(std::string_view bytes) {
    if (size_ + bytes.size() > allocated_) extend(size_ + bytes.size() + preallocation);
    write_at(size_, bytes);
    size_ += bytes.size();
  }

  /// fdatasync: the data written so far is on disk when this returns.
  void sync() {
    if (::fdatasync(fd_) != 0) throw_errno("cannot fdatasync", path_);
  }

  [[nodiscard]] std::uint64_t number() const noexcept { return number_; }
  [[nodiscard]] const std::string& path() const noexcept { return path_; }
  /// Where the data ends (the next frame's offset).
  [[nodiscard]] std::uint64_t size() const noexcept { return size_; }

  /// Fsyncs the directory holding `path`, so a file created or renamed there stays after a crash.
  static void sync_directory_of(const std::string& path) {
    const auto slash = path.rfind('/');
    const std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
    const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) throw_errno("cannot open the directory", dir);
    const int rc = ::fsync(dfd);
    const int saved = errno;
    ::close(dfd);
    if (rc != 0) {
      errno = saved;
      throw_errno("cannot fsync the directory", dir);
    }
  }

 private:
  segment_file(std::string path, std::uint64_t number, int fd, std::uint64_t size, std::uint64_t allocated)
      : path_(std::move(path)), number_(number), fd_(fd), size_(size), allocated_(allocated) {}

  // Zero-fills [allocated_, target): real zeros, not fallocate, whose unwritten extents would
  // need a metadata update again when written.
  void extend(std::uint64_t target) {
    static const std::string zeros(std::size_t{64} << 10, '\0');
    while (allocated_ < target) {
      const auto n = std::min<std::uint64_t>(zeros.size(), target - allocated_);
      write_at(allocated_, std::string_view(zeros).substr(0, static_cast<std::size_t>(n)));
      allocated_ += n;
    }
  }

  void write_at(std::uint64_t offset, std::string_view bytes) {
    std::size_t done = 0;
    while (done < bytes.size()) {
      const auto n = ::pwrite(fd_, bytes.data() + done, bytes.size() - done, static_cast<off_t>(offset + done));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) throw_errno("cannot write", path_);
      done += static_cast<std::size_t>(n);
    }
  }

  [[noreturn]] static void throw_errno(const char* what, const std::string& path) {
    throw std::runtime_error(fmt::format("{} {}: {}", what, path, std::strerror(errno)));
  }

  std::string path_;
  std::uint64_t number_;
  int fd_;
  std::uint64_t size_;       // where the data ends
  std::uint64_t allocated_;  // where the file ends (zeros from size_ on)
};

}  // namespace tollgate::detail

#endif  // TOLLGATE_SERVICE_JOURNAL_SEGMENT_HPP
