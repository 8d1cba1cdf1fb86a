#include "webui/http_server.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstdint>
#include <deque>
#include <limits>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <thread>
#include <unordered_map>

#include "common/strings.h"

namespace weir::webui {

const std::string* HttpRequest::Header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (key == name) return &value;
  }
  return nullptr;
}

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using Response = http::response<http::string_body>;

// An event stream whose reader is this far behind is dropped: it is not reading.
constexpr std::size_t kMaxQueuedEventBytes = 1 << 20;
// A comment line written this often on an event stream, so proxies keep the connection.
constexpr auto kEventKeepAlive = std::chrono::seconds(15);
// After an error answer the server stops sending and discards what the client still sends for
// this long (or this many bytes), so that closing does not reset the connection before the
// client has read the answer.
constexpr Duration kMaxLinger = std::chrono::seconds(1);
constexpr std::size_t kMaxLingerBytes = 1 << 20;
// The read buffer holds a whole header, plus one read; a longer chunk header or trailer is 400.
constexpr std::size_t kReadSlack = 64 << 10;

bool IsLoopback(const net::ip::address& address) {
  if (address.is_v4()) return address.to_v4().to_bytes()[0] == 127;
  const net::ip::address_v6 v6 = address.to_v6();
  if (v6.is_loopback()) return true;
  return v6.is_v4_mapped() && net::ip::make_address_v4(net::ip::v4_mapped, v6).to_bytes()[0] == 127;
}

std::string_view Std(beast::string_view s) { return {s.data(), s.size()}; }

bool IEquals(std::string_view a, std::string_view b) {
  return beast::iequals(beast::string_view(a.data(), a.size()),
                        beast::string_view(b.data(), b.size()));
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// A header name a handler may send: an RFC 9110 token.
bool IsToken(std::string_view s) {
  constexpr std::string_view kSymbols = "!#$%&'*+-.^_`|~";
  return !s.empty() && std::all_of(s.begin(), s.end(), [&](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           kSymbols.find(c) != std::string_view::npos;
  });
}

// A header value that cannot break the framing (no CR, LF or NUL).
bool IsSafeValue(std::string_view s) {
  return s.find_first_of(std::string_view("\r\n\0", 3)) == s.npos;
}

// Headers the server owns: a handler's are dropped.
bool IsFramingHeader(std::string_view name) {
  return IEquals(name, "content-length") || IEquals(name, "transfer-encoding") ||
         IEquals(name, "connection");
}

void AddSecurityHeaders(http::response_header<>& header) {
  header.set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'");
  header.set("X-Content-Type-Options", "nosniff");
  header.set("X-Frame-Options", "DENY");
  header.set("Referrer-Policy", "no-referrer");
  if (header.find(http::field::cache_control) == header.end()) {
    header.set(http::field::cache_control, "no-store");
  }
}

// The status line and headers of a handler's answer, without framing.
Response HandlerHeaders(const HttpResponse& out, unsigned version) {
  Response res{static_cast<http::status>(out.status), version};
  for (const auto& [name, value] : out.headers) {
    if (!IsToken(name) || !IsSafeValue(value) || IsFramingHeader(name)) {
      spdlog::warn("http: dropped the response header '{}' set by a handler", Printable(name));
      continue;
    }
    res.insert(name, value);
  }
  if (!out.content_type.empty() && IsSafeValue(out.content_type)) {
    res.set(http::field::content_type, out.content_type);
  }
  AddSecurityHeaders(res);
  return res;
}

// An answer the server writes itself: a JSON body {"error": reason}.
Response ErrorResponse(int status, const std::string& reason, unsigned version, bool keep_alive) {
  Response res{static_cast<http::status>(status), version};
  res.set(http::field::content_type, "application/json");
  AddSecurityHeaders(res);
  res.keep_alive(keep_alive);
  res.body() = nlohmann::json{{"error", reason}}.dump();
  res.content_length(res.body().size());
  return res;
}

// Beast counts header bytes in 32 bits.
std::uint32_t HeaderLimit(const HttpServerOptions& options) {
  return static_cast<std::uint32_t>(
      std::min<std::size_t>(options.max_header_bytes, std::numeric_limits<std::uint32_t>::max()));
}

class Session;

// What the server and its sessions share. Outlives every session (see Server::Stop).
struct ServerState {
  HttpServerOptions options;
  HttpHandler handler;
  std::atomic<int> open_sessions = 0;  // counted sessions (not the ones answered 503)

  std::mutex mutex;  // guards `sessions`
  std::unordered_map<Session*, std::weak_ptr<Session>> sessions;

  std::vector<std::shared_ptr<Session>> LiveSessions() {
    std::lock_guard lock(mutex);
    std::vector<std::shared_ptr<Session>> out;
    for (const auto& [raw, weak] : sessions) {
      if (auto session = weak.lock()) out.push_back(std::move(session));
    }
    return out;
  }
};

// The `send` handed to an event stream's subscriber holds this, not the session: it may be
// called from any thread, at any time, even after the server is gone. Once closed (the stream
// ended, or Stop is about to destroy the io_context) it does nothing and holds no executor: a
// strand must not outlive its io_context.
class EventLink {
 public:
  EventLink(std::weak_ptr<Session> session, net::any_io_executor strand)
      : session_(std::move(session)), strand_(std::move(strand)) {}

  void Send(std::string text);

  void Close() {
    std::lock_guard lock(mutex_);
    strand_.reset();
  }

 private:
  std::mutex mutex_;  // held while posting, so Close waits for a post in progress
  std::weak_ptr<Session> session_;
  std::optional<net::any_io_executor> strand_;  // empty once closed
};

// One connection. Everything runs on the connection's strand, except Close and the destructor
// called by Server::Stop once the threads are joined.
class Session : public std::enable_shared_from_this<Session> {
 private:
  // A completion handler that keeps the session alive and calls `fn` safely. Defined first: its
  // return type is deduced, so it must be seen before the functions that use it.
  template <typename... Args>
  auto Guarded(void (Session::*fn)(Args...)) {
    return [self = shared_from_this(), fn](Args... args) {
      self->Safely([&] { ((*self).*fn)(std::move(args)...); });
    };
  }

 public:
  // `counted`: the server counted it in open_sessions; otherwise it is over the cap and gets 503.
  Session(ServerState& state, tcp::socket socket, bool counted)
      : state_(state),
        stream_(std::move(socket)),
        buffer_(HeaderLimit(state.options) + kReadSlack),
        counted_(counted),
        ping_(stream_.get_executor()) {}

  ~Session() {
    Release();
    if (link_) link_->Close();
    {
      std::lock_guard lock(state_.mutex);
      state_.sessions.erase(this);
    }
    Unsubscribe();
  }

  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  void Begin() { net::dispatch(stream_.get_executor(), Guarded(&Session::OnBegin)); }

  // Closes the connection at once and ends its event stream, if any. Idempotent.
  void Close() {
    if (closed_) return;
    closed_ = true;
    Release();
    if (link_) link_->Close();
    ping_.cancel();
    stream_.close();
    Unsubscribe();
  }

  // Queues `text` on the event stream (on the strand).
  void Enqueue(std::string text) {
    if (closed_) return;
    queued_bytes_ += text.size();
    if (queued_bytes_ > kMaxQueuedEventBytes) {
      spdlog::warn("http: dropped the event stream to {}: more than {} bytes wait to be read",
                   peer_, kMaxQueuedEventBytes);
      Close();
      return;
    }
    queue_.push_back(std::move(text));
    if (!writing_) WriteNextEvent();
  }

  // Runs `fn` at the border: nothing thrown leaves an Asio handler; the connection is dropped.
  template <typename Fn>
  void Safely(Fn&& fn) {
    try {
      fn();
    } catch (const std::exception& e) {
      spdlog::error("http: dropped the connection from {}: {}", peer_, e.what());
      Close();
    } catch (...) {
      spdlog::error("http: dropped the connection from {}: unknown exception", peer_);
      Close();
    }
  }

 private:
  enum class AfterWrite { kNextRequest, kClose, kLinger };

  void OnBegin() {
    beast::error_code ec;
    const tcp::endpoint endpoint = stream_.socket().remote_endpoint(ec);
    if (ec) return Close();  // already gone
    peer_ = endpoint.address().to_string();
    loopback_ = IsLoopback(endpoint.address());
    if (!counted_) {
      return SendError(503, fmt::format("more than {} open connections; try again shortly",
                                        state_.options.max_connections));
    }
    stream_.expires_after(state_.options.read_timeout);
    ReadHeader();
  }

  // Between kept-alive requests: the idle timeout runs until the next request's first byte.
  void WaitForRequest() {
    if (buffer_.size() > 0) {  // pipelined
      stream_.expires_after(state_.options.read_timeout);
      return ReadHeader();
    }
    stream_.expires_after(state_.options.idle_timeout);
    stream_.async_read_some(buffer_.prepare(512), Guarded(&Session::OnFirstByte));
  }

  void OnFirstByte(beast::error_code ec, std::size_t bytes) {
    buffer_.commit(bytes);
    if (ec) return Close();
    stream_.expires_after(state_.options.read_timeout);
    ReadHeader();
  }

  void ReadHeader() {
    parser_.emplace();
    parser_->header_limit(HeaderLimit(state_.options));
    parser_->body_limit(state_.options.max_body_bytes);
    http::async_read_header(stream_, buffer_, *parser_, Guarded(&Session::OnHeader));
  }

  void OnHeader(beast::error_code ec, std::size_t) {
    if (ec) return OnReadError(ec);
    const auto& message = parser_->get();
    if (std::distance(message.begin(), message.end()) > state_.options.max_headers) {
      return SendError(431, fmt::format("more than {} header fields", state_.options.max_headers));
    }
    // Beast ignores a Transfer-Encoding that does not end in chunked and reads no body: the
    // body would be taken for the next request.
    const auto [first, last] = message.equal_range(http::field::transfer_encoding);
    for (auto field = first; field != last; ++field) {
      if (!IEquals(Trim(Std(field->value())), "chunked")) {
        return SendError(400, "Transfer-Encoding other than chunked is not supported");
      }
    }
    if (parser_->is_done()) return Dispatch();
    // curl waits a second for this before sending a body larger than 1 KiB.
    if (message.version() == 11 && IEquals(Std(message[http::field::expect]), "100-continue")) {
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      net::async_write(stream_, net::buffer(kContinue.data(), kContinue.size()),
                       Guarded(&Session::OnContinueWritten));
      return;
    }
    ReadBody();
  }

  void OnContinueWritten(beast::error_code ec, std::size_t) {
    if (ec) return Close();
    ReadBody();
  }

  void ReadBody() { http::async_read(stream_, buffer_, *parser_, Guarded(&Session::OnBody)); }

  void OnBody(beast::error_code ec, std::size_t) {
    if (ec) return OnReadError(ec);
    Dispatch();
  }

  void OnReadError(beast::error_code ec) {
    const auto& options = state_.options;
    if (ec == http::error::body_limit) {
      return SendError(413,
                       fmt::format("request body larger than {} bytes", options.max_body_bytes));
    }
    if (ec == http::error::header_limit ||
        (ec == http::error::buffer_overflow && !parser_->is_header_done())) {
      return SendError(
          431, fmt::format("request header larger than {} bytes", options.max_header_bytes));
    }
    if (ec == http::error::buffer_overflow) {
      return SendError(400, fmt::format("a chunk header or trailer longer than {} bytes",
                                        options.max_header_bytes + kReadSlack));
    }
    const bool parse_error =
        ec.category() == http::make_error_code(http::error::bad_target).category();
    if (parse_error && ec != http::error::end_of_stream && ec != http::error::partial_message) {
      return SendError(400, "malformed request: " + ec.message());
    }
    Close();  // the client went away, timed out, or the server is stopping
  }

  void Dispatch() {
    auto& message = parser_->get();
    const bool head = message.method() == http::verb::head;
    const unsigned version = message.version() == 10 ? 10 : 11;
    const bool keep_alive = parser_->keep_alive();

    HttpRequest request;
    // HEAD is answered as GET without the body, so the handler sees GET.
    request.method = head ? "GET" : std::string(message.method_string());
    const std::string_view target = Std(message.target());
    const std::size_t question = target.find('?');
    request.path = std::string(target.substr(0, question));
    if (question != target.npos) request.query = std::string(target.substr(question + 1));
    for (const auto& field : message) {
      request.headers.emplace_back(Lower(Std(field.name_string())), std::string(field.value()));
    }
    request.body = std::move(message.body());
    request.peer = peer_;
    request.from_loopback = loopback_;
    parser_.reset();

    HttpResponse out;
    std::string failure;
    try {
      out = state_.handler(request);
      if (out.status < 200 || out.status > 599) {
        failure = fmt::format("the handler answered status {}", out.status);
      }
    } catch (const std::exception& e) {
      failure = fmt::format("the handler threw: {}", e.what());
    } catch (...) {
      failure = "the handler threw";
    }
    if (!failure.empty()) {
      spdlog::error("http: {} {}: {}", request.method, Printable(request.path), failure);
      return Write(ErrorResponse(500, "internal error", version, keep_alive),
                   keep_alive ? AfterWrite::kNextRequest : AfterWrite::kClose);
    }
    if (out.stream && !head) return StartEvents(std::move(out), version, keep_alive);

    Response res = HandlerHeaders(out, version);
    if (out.stream) res.set(http::field::content_type, "text/event-stream");  // HEAD of a stream
    res.keep_alive(keep_alive);
    if (out.status != 204 && out.status != 304) {
      res.content_length(out.body.size());
      if (!head) res.body() = std::move(out.body);
    }
    Write(std::move(res), keep_alive ? AfterWrite::kNextRequest : AfterWrite::kClose);
  }

  void Write(Response res, AfterWrite after) {
    response_ = std::move(res);
    after_write_ = after;
    stream_.expires_after(state_.options.write_timeout);
    http::async_write(stream_, response_, Guarded(&Session::OnWritten));
  }

  void OnWritten(beast::error_code ec, std::size_t) {
    response_ = {};
    if (ec) return Close();
    switch (after_write_) {
      case AfterWrite::kNextRequest:
        return WaitForRequest();
      case AfterWrite::kClose:
        return Close();
      case AfterWrite::kLinger:
        return Linger();
    }
  }

  // Answers with an error and closes the connection.
  void SendError(int status, const std::string& reason) {
    Response res = ErrorResponse(status, reason, 11, false);
    if (status == 503) res.set(http::field::retry_after, "1");
    Write(std::move(res), AfterWrite::kLinger);
  }

  // After an error answer: sends FIN, then discards what the client still sends for a moment,
  // so the close does not reset the connection before the client reads the answer.
  void Linger() {
    Release();
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    if (ec) return Close();
    stream_.expires_after(std::min(state_.options.read_timeout, kMaxLinger));
    drained_ = 0;
    Drain();
  }

  void Drain() { stream_.async_read_some(net::buffer(scratch_), Guarded(&Session::OnDrained)); }

  void OnDrained(beast::error_code ec, std::size_t bytes) {
    drained_ += bytes;
    if (ec || drained_ > kMaxLingerBytes) return Close();
    Drain();
  }

  // Server-Sent Events: the header and `out.body`, then what the subscriber sends.
  void StartEvents(HttpResponse out, unsigned version, bool keep_alive) {
    auto link = std::make_shared<EventLink>(weak_from_this(), stream_.get_executor());
    std::function<void()> unsubscribe;
    try {
      unsubscribe = out.stream([link](std::string text) { link->Send(std::move(text)); });
    } catch (...) {
      link->Close();  // `send` may have been kept: it must not hold the strand
      spdlog::error("http: subscribing an event stream threw");
      return Write(ErrorResponse(500, "internal error", version, keep_alive),
                   keep_alive ? AfterWrite::kNextRequest : AfterWrite::kClose);
    }
    link_ = std::move(link);
    unsubscribe_ = std::move(unsubscribe);

    Response header = HandlerHeaders(out, version);
    header.set(http::field::content_type, "text/event-stream");
    header.set(http::field::cache_control, "no-store");
    header.set(http::field::connection, "keep-alive");
    std::ostringstream text;
    text << header.base();

    stream_.expires_never();  // a stream has no timeouts; a stuck reader fills the queue
    Enqueue(text.str() + out.body);
    WatchForClose();
    SchedulePing();
  }

  void WriteNextEvent() {
    writing_ = true;
    net::async_write(stream_, net::buffer(queue_.front()), Guarded(&Session::OnEventWritten));
  }

  void OnEventWritten(beast::error_code ec, std::size_t) {
    writing_ = false;
    if (ec) return Close();
    queued_bytes_ -= queue_.front().size();
    queue_.pop_front();
    if (!queue_.empty() && !closed_) WriteNextEvent();
  }

  // One read stays pending on an event stream: it ends when the client goes away.
  void WatchForClose() {
    stream_.async_read_some(net::buffer(scratch_), Guarded(&Session::OnWatchRead));
  }

  void OnWatchRead(beast::error_code ec, std::size_t) {
    if (ec) return Close();
    WatchForClose();  // what a client sends on an event stream is ignored
  }

  void SchedulePing() {
    ping_.expires_after(kEventKeepAlive);
    ping_.async_wait(Guarded(&Session::OnPing));
  }

  void OnPing(beast::error_code ec) {
    if (ec || closed_) return;
    Enqueue(": keep-alive\n\n");
    SchedulePing();
  }

  // Stops counting this session against max_connections; done before the client can see the
  // close, so a client that saw it can connect again at once.
  void Release() {
    if (!counted_) return;
    counted_ = false;
    --state_.open_sessions;
  }

  void Unsubscribe() {
    if (auto unsubscribe = std::exchange(unsubscribe_, nullptr)) {
      try {
        unsubscribe();
      } catch (const std::exception& e) {
        spdlog::error("http: unsubscribing an event stream threw: {}", e.what());
      } catch (...) {
        spdlog::error("http: unsubscribing an event stream threw");
      }
    }
  }

  ServerState& state_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  Response response_;
  AfterWrite after_write_ = AfterWrite::kClose;
  std::array<char, 4096> scratch_;  // what is read only to be discarded
  std::size_t drained_ = 0;
  std::string peer_;
  bool loopback_ = false;
  bool counted_;
  bool closed_ = false;

  // Event stream.
  std::shared_ptr<EventLink> link_;
  std::function<void()> unsubscribe_;
  std::deque<std::string> queue_;  // the front is being written
  std::size_t queued_bytes_ = 0;
  bool writing_ = false;
  net::steady_timer ping_;
};

void EventLink::Send(std::string text) {
  std::lock_guard lock(mutex_);
  if (!strand_) return;
  net::post(*strand_, [session = session_, text = std::move(text)]() mutable {
    if (auto self = session.lock()) {
      self->Safely([&] { self->Enqueue(std::move(text)); });
    }
  });
}

class Server final : public HttpServer {
 public:
  Server(HttpServerOptions options, HttpHandler handler)
      : ioc_(std::make_unique<net::io_context>(std::max(1, options.threads))) {
    state_.options = std::move(options);
    state_.handler = std::move(handler);
  }
  ~Server() override { Stop(); }

  Result<void> Listen(const tcp::endpoint& endpoint) {
    const std::string where =
        endpoint.address().is_v6()
            ? fmt::format("[{}]:{}", endpoint.address().to_string(), endpoint.port())
            : fmt::format("{}:{}", endpoint.address().to_string(), endpoint.port());
    beast::error_code ec;
    acceptor_.emplace(*ioc_);
    acceptor_->open(endpoint.protocol(), ec);
    if (!ec) acceptor_->set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_->bind(endpoint, ec);
    if (!ec) acceptor_->listen(net::socket_base::max_listen_connections, ec);
    if (!ec) port_ = acceptor_->local_endpoint(ec).port();
    if (ec)
      return Fail(ErrorCode::kIo, fmt::format("cannot listen on {}: {}", where, ec.message()));

    accept_retry_.emplace(*ioc_);
    work_.emplace(ioc_->get_executor());
    Accept();
    for (int i = 0; i < std::max(1, state_.options.threads); ++i) {
      threads_.emplace_back([this] { Run(); });
    }
    return {};
  }

  int port() const override { return port_; }

  void Stop() override {
    if (stopped_) return;
    stopped_ = true;
    ioc_->stop();
    for (auto& thread : threads_) thread.join();
    threads_.clear();
    // No handler runs now: close everything from here, then destroy the handlers left in the
    // io_context, and with them the sessions.
    beast::error_code ec;
    if (acceptor_) acceptor_->close(ec);
    for (const auto& session : state_.LiveSessions()) session->Close();
    work_.reset();
    accept_retry_.reset();
    acceptor_.reset();
    ioc_.reset();
  }

 private:
  void Run() {
    for (;;) {
      try {
        ioc_->run();
        return;
      } catch (const std::exception& e) {
        spdlog::error("http: {}", e.what());
      }
    }
  }

  void Accept() {
    acceptor_->async_accept(net::make_strand(*ioc_), [this](beast::error_code ec, tcp::socket s) {
      OnAccept(ec, std::move(s));
    });
  }

  void OnAccept(beast::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || !acceptor_->is_open()) return;
    if (ec && ec != net::error::connection_aborted) {
      // Out of file descriptors, say: try again in a moment rather than spin.
      spdlog::warn("http: accepting a connection failed: {}", ec.message());
      accept_retry_->expires_after(std::chrono::milliseconds(100));
      accept_retry_->async_wait([this](beast::error_code wait_ec) {
        if (!wait_ec) Accept();
      });
      return;
    }
    if (!ec) {
      try {
        // Only this chain increments the count, so checking and incrementing is not a race.
        const bool counted = state_.open_sessions.load() < state_.options.max_connections;
        if (counted) ++state_.open_sessions;
        auto session = std::make_shared<Session>(state_, std::move(socket), counted);
        {
          std::lock_guard lock(state_.mutex);
          state_.sessions.emplace(session.get(), session);
        }
        session->Begin();
      } catch (const std::exception& e) {
        spdlog::error("http: could not start a session: {}", e.what());
      }
    }
    Accept();
  }

  ServerState state_;
  std::unique_ptr<net::io_context> ioc_;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work_;
  std::optional<tcp::acceptor> acceptor_;
  std::optional<net::steady_timer> accept_retry_;
  std::vector<std::thread> threads_;
  int port_ = 0;
  bool stopped_ = false;
};

}  // namespace

Result<std::unique_ptr<HttpServer>> HttpServer::Start(HttpServerOptions options,
                                                      HttpHandler handler) {
  beast::error_code ec;
  const net::ip::address address = net::ip::make_address(options.host, ec);
  if (ec) {
    return Fail(ErrorCode::kInvalidArgument,
                fmt::format("'{}' is not an IP address; give one such as 127.0.0.1 or ::1",
                            Printable(options.host)));
  }
  if (options.port < 0 || options.port > 65535) {
    return Fail(ErrorCode::kInvalidArgument,
                fmt::format("port {} is out of range (0 to 65535)", options.port));
  }
  if (!handler) return Fail(ErrorCode::kInvalidArgument, "the HTTP server has no handler");
  const tcp::endpoint endpoint(address, static_cast<unsigned short>(options.port));
  auto server = std::make_unique<Server>(std::move(options), std::move(handler));
  if (auto listening = server->Listen(endpoint); !listening) {
    return std::unexpected(std::move(listening.error()));
  }
  return server;
}

}  // namespace weir::webui
