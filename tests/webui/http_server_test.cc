// The HTTP server against real sockets on loopback: what reaches the handler, the headers of
// every answer, and each limit a hostile client could push against (body and header sizes,
// malformed chunks, slow clients, the connection cap), Server-Sent Events, and Start's errors.
// Nothing sleeps: where a timeout must pass, the server's timeouts are tiny and the client
// waits on its socket, which gives up after five seconds so a bug fails rather than hangs.
#include "webui/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <future>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace weir::webui {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

const std::string kCsp = "default-src 'self'; frame-ancestors 'none'";

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// One answer as the client read it.
struct Answer {
  int status = 0;  // 0: the connection closed or timed out before a whole answer
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;

  const std::string* Header(const std::string& name) const {
    for (const auto& [key, value] : headers) {
      if (key == name) return &value;
    }
    return nullptr;
  }
  std::string Value(const std::string& name) const {
    const std::string* value = Header(name);
    return value ? *value : "<none>";
  }
  int Count(const std::string& name) const {
    int n = 0;
    for (const auto& [key, value] : headers) n += key == name;
    return n;
  }
};

// A blocking client socket. Every read and write gives up after five seconds.
class Client {
 public:
  // `receive_buffer`: SO_RCVBUF before connecting (0: the default), to make a slow reader.
  explicit Client(int port, bool ipv6 = false, int receive_buffer = 0) {
    fd_ = ::socket(ipv6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd_ >= 0);
    timeval timeout{5, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    if (receive_buffer > 0) {
      ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
    }
    int connected = -1;
    if (ipv6) {
      sockaddr_in6 address{};
      address.sin6_family = AF_INET6;
      address.sin6_port = htons(static_cast<uint16_t>(port));
      address.sin6_addr = in6addr_loopback;
      connected = ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address);
    } else {
      sockaddr_in address{};
      address.sin_family = AF_INET;
      address.sin_port = htons(static_cast<uint16_t>(port));
      address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      connected = ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address);
    }
    INFO(std::strerror(errno));
    REQUIRE(connected == 0);
  }
  ~Client() { Close(); }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  // False when the server closed the connection first.
  bool Send(std::string_view bytes) {
    while (!bytes.empty()) {
      ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }

  // One answer: its body by Content-Length, to the close without one, or (an event stream, or
  // `head`) none; what came after stays for the next read.
  Answer Read(bool head = false) {
    std::size_t end;
    while ((end = pending_.find("\r\n\r\n")) == std::string::npos) {
      if (!Fill()) return {};
    }
    Answer answer;
    std::string_view header = std::string_view(pending_).substr(0, end);
    std::size_t line_end = header.find("\r\n");
    std::string_view status_line = header.substr(0, line_end);
    if (status_line.size() < 12 || !status_line.starts_with("HTTP/1.")) return {};
    const int status = std::stoi(std::string(status_line.substr(9, 3)));
    while (line_end != std::string_view::npos) {
      header.remove_prefix(line_end + 2);
      line_end = header.find("\r\n");
      std::string_view line = header.substr(0, line_end);
      const std::size_t colon = line.find(':');
      std::string_view value = line.substr(colon + 1);
      while (value.starts_with(' ')) value.remove_prefix(1);
      answer.headers.emplace_back(Lower(std::string(line.substr(0, colon))), std::string(value));
    }
    pending_.erase(0, end + 4);
    if (head || answer.Value("content-type") == "text/event-stream") {
      answer.status = status;
      return answer;
    }
    if (const std::string* length = answer.Header("content-length")) {
      const std::size_t size = std::stoul(*length);
      while (pending_.size() < size) {
        if (!Fill()) return {};
      }
      answer.body = pending_.substr(0, size);
      pending_.erase(0, size);
    } else {
      while (Fill()) {
      }
      answer.body = std::exchange(pending_, "");
    }
    answer.status = status;
    return answer;
  }

  // The next `size` bytes, or fewer when the connection ends or times out first.
  std::string ReadBytes(std::size_t size) {
    while (pending_.size() < size && Fill()) {
    }
    std::string out = pending_.substr(0, size);
    pending_.erase(0, out.size());
    return out;
  }

  // Reads until the server closes the connection: true when it does (an end of file or a
  // reset), false when five seconds pass first.
  bool WaitForClose() {
    char buffer[4096];
    for (;;) {
      ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
      if (n > 0) continue;
      if (n < 0 && errno == EINTR) continue;
      return n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
    }
  }

  // Whether something (data or the close) arrives within `timeout`.
  bool WaitReadable(std::chrono::milliseconds timeout) {
    pollfd p{fd_, POLLIN, 0};
    return ::poll(&p, 1, static_cast<int>(timeout.count())) > 0;
  }

 private:
  bool Fill() {
    char buffer[65536];
    for (;;) {
      ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      pending_.append(buffer, static_cast<std::size_t>(n));
      return true;
    }
  }

  int fd_ = -1;
  std::string pending_;
};

// A handler that records what reaches it and answers through `answer`.
class Recorder {
 public:
  explicit Recorder(std::function<HttpResponse(const HttpRequest&)> answer = nullptr)
      : answer_(std::move(answer)) {}

  HttpHandler Handler() {
    return [this](const HttpRequest& request) {
      {
        std::lock_guard lock(mutex_);
        requests_.push_back(request);
      }
      ++calls;
      if (answer_) return answer_(request);
      return HttpResponse{.body = R"({"ok":true})"};
    };
  }
  std::vector<HttpRequest> Requests() {
    std::lock_guard lock(mutex_);
    return requests_;
  }

  std::atomic<int> calls = 0;

 private:
  std::function<HttpResponse(const HttpRequest&)> answer_;
  std::mutex mutex_;
  std::vector<HttpRequest> requests_;
};

std::unique_ptr<HttpServer> StartServer(HttpServerOptions options, HttpHandler handler) {
  options.port = 0;
  auto server = HttpServer::Start(options, std::move(handler));
  INFO((server ? "" : server.error().message));
  REQUIRE(server);
  return std::move(*server);
}

std::unique_ptr<HttpServer> StartServer(HttpHandler handler) {
  return StartServer(HttpServerOptions{}, std::move(handler));
}

void CheckSecurityHeaders(const Answer& answer) {
  CHECK(answer.Value("content-security-policy") == kCsp);
  CHECK(answer.Value("x-content-type-options") == "nosniff");
  CHECK(answer.Value("x-frame-options") == "DENY");
  CHECK(answer.Value("referrer-policy") == "no-referrer");
  CHECK(answer.Header("server") == nullptr);
  for (const auto& [name, value] : answer.headers) {
    INFO(name);
    CHECK_FALSE(name.starts_with("access-control-"));
  }
}

// An answer the server wrote itself: a JSON error and the connection closed after it.
void CheckServerError(Client& client, int status, const std::string& reason = "") {
  Answer answer = client.Read();
  INFO(answer.body);
  CHECK(answer.status == status);
  CHECK(answer.Value("content-type") == "application/json");
  CHECK(answer.Value("cache-control") == "no-store");
  CHECK(answer.body.starts_with(R"({"error":")"));
  if (!reason.empty()) CHECK(answer.body == R"({"error":")" + reason + R"("})");
  CheckSecurityHeaders(answer);
  CHECK(client.WaitForClose());
}

// A new connection still gets served.
void CheckStillServing(int port) {
  Client client(port);
  REQUIRE(client.Send("GET /still HTTP/1.1\r\nHost: x\r\n\r\n"));
  CHECK(client.Read().status == 200);
}

std::string Post(const std::string& body) {
  return "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\n\r\n" + body;
}

std::string PostChunked(const std::string& chunks) {
  return "POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks;
}

TEST_CASE(
    "a GET reaches the handler with its method, path, query, lower-cased headers and loopback "
    "flag, and keep-alive serves a second request on the connection",
    "[webui]") {
  HttpServerOptions options;
  options.threads = GENERATE(1, 4);
  Recorder recorder([](const HttpRequest& request) {
    return HttpResponse{.status = 201,
                        .content_type = "text/plain; charset=utf-8",
                        .body = "hello " + request.path,
                        .headers = {{"X-Extra", "1"}}};
  });
  auto server = StartServer(options, recorder.Handler());
  Client client(server->port());

  REQUIRE(
      client.Send("GET /a/b%20c?x=1&y=2 HTTP/1.1\r\nHost: example\r\nX-Mixed-Case: Value\r\n\r\n"));
  Answer first = client.Read();
  CHECK(first.status == 201);
  CHECK(first.body == "hello /a/b%20c");
  CHECK(first.Value("content-type") == "text/plain; charset=utf-8");
  CHECK(first.Value("content-length") == "14");
  CHECK(first.Value("x-extra") == "1");
  CHECK(first.Value("cache-control") == "no-store");
  CheckSecurityHeaders(first);

  REQUIRE(client.Send("GET /second HTTP/1.1\r\nHost: example\r\n\r\n"));
  Answer second = client.Read();
  CHECK(second.status == 201);
  CHECK(second.body == "hello /second");

  auto requests = recorder.Requests();
  REQUIRE(requests.size() == 2);
  const HttpRequest& request = requests[0];
  CHECK(request.method == "GET");
  CHECK(request.path == "/a/b%20c");
  CHECK(request.query == "x=1&y=2");
  CHECK(request.headers == std::vector<std::pair<std::string, std::string>>{
                               {"host", "example"}, {"x-mixed-case", "Value"}});
  REQUIRE(request.Header("x-mixed-case") != nullptr);
  CHECK(*request.Header("x-mixed-case") == "Value");
  CHECK(request.body.empty());
  CHECK(request.peer == "127.0.0.1");
  CHECK(request.from_loopback);
  CHECK(requests[1].path == "/second");
  CHECK(requests[1].query.empty());
}

TEST_CASE(
    "a handler's own Cache-Control replaces no-store, and the framing headers it sets are "
    "dropped",
    "[webui]") {
  Recorder recorder([](const HttpRequest&) {
    return HttpResponse{.body = "{}",
                        .headers = {{"Cache-Control", "max-age=60"},
                                    {"Content-Length", "999"},
                                    {"Connection", "close"},
                                    {"X-Split", "a\r\nInjected: yes"},
                                    {"Set-Cookie", "a=b"}}};
  });
  auto server = StartServer(recorder.Handler());
  Client client(server->port());
  REQUIRE(client.Send("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  Answer answer = client.Read();
  CHECK(answer.status == 200);
  CHECK(answer.Value("cache-control") == "max-age=60");
  CHECK(answer.Count("cache-control") == 1);
  CHECK(answer.Value("content-length") == "2");
  CHECK(answer.Header("connection") == nullptr);
  CHECK(answer.Header("x-split") == nullptr);
  CHECK(answer.Header("injected") == nullptr);
  CHECK(answer.Value("set-cookie") == "a=b");
  CheckSecurityHeaders(answer);
  // The connection stays open despite the handler's Connection: close.
  REQUIRE(client.Send("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  CHECK(client.Read().status == 200);
}

TEST_CASE("a HEAD request gets the GET answer's headers without the body", "[webui]") {
  Recorder recorder([](const HttpRequest& request) {
    return HttpResponse{.content_type = "text/plain", .body = request.method + " body"};
  });
  auto server = StartServer(recorder.Handler());
  Client client(server->port());
  REQUIRE(client.Send("HEAD /page HTTP/1.1\r\nHost: x\r\n\r\n"));
  Answer head = client.Read(/*head=*/true);
  CHECK(head.status == 200);
  CHECK(head.Value("content-length") == "8");
  CHECK(head.Value("content-type") == "text/plain");
  CheckSecurityHeaders(head);
  // No body followed: the next answer on the connection starts where the headers ended.
  REQUIRE(client.Send("GET /page HTTP/1.1\r\nHost: x\r\n\r\n"));
  Answer get = client.Read();
  CHECK(get.status == 200);
  CHECK(get.body == "GET body");
  CHECK(recorder.Requests().at(0).method == "GET");
}

TEST_CASE("HTTP/1.0 and Connection: close end the connection after the answer", "[webui]") {
  Recorder recorder;
  auto server = StartServer(recorder.Handler());
  for (std::string request :
       {"GET / HTTP/1.0\r\n\r\n", "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"}) {
    INFO(request);
    Client client(server->port());
    REQUIRE(client.Send(request));
    Answer answer = client.Read();
    CHECK(answer.status == 200);
    CHECK(answer.body == R"({"ok":true})");
    CHECK(client.WaitForClose());
  }
  // HTTP/1.0 with keep-alive asked for stays open.
  Client client(server->port());
  REQUIRE(client.Send("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
  Answer answer = client.Read();
  CHECK(answer.status == 200);
  CHECK(Lower(answer.Value("connection")) == "keep-alive");
  REQUIRE(client.Send("GET / HTTP/1.0\r\n\r\n"));
  CHECK(client.Read().status == 200);
  CHECK(recorder.calls == 4);
}

TEST_CASE(
    "a body of exactly max_body_bytes reaches the handler, and one byte more with Content-Length "
    "is 413 and the handler is never called",
    "[webui]") {
  Recorder recorder([](const HttpRequest& request) {
    return HttpResponse{.body = std::to_string(request.body.size())};
  });
  auto server = StartServer({.max_body_bytes = 1024}, recorder.Handler());
  {
    Client client(server->port());
    REQUIRE(client.Send(Post(std::string(1024, 'a'))));
    Answer answer = client.Read();
    CHECK(answer.status == 200);
    CHECK(answer.body == "1024");
  }
  CHECK(recorder.calls == 1);
  CHECK(recorder.Requests().at(0).method == "POST");
  CHECK(recorder.Requests().at(0).body == std::string(1024, 'a'));

  Client client(server->port());
  REQUIRE(client.Send(Post(std::string(1025, 'a'))));
  CheckServerError(client, 413, "request body larger than 1024 bytes");
  CHECK(recorder.calls == 1);
  CheckStillServing(server->port());
}

TEST_CASE(
    "Expect: 100-continue gets 100 Continue before the body is read, or 413 at once when the "
    "body is too large",
    "[webui]") {
  Recorder recorder([](const HttpRequest& request) { return HttpResponse{.body = request.body}; });
  auto server = StartServer({.max_body_bytes = 1024}, recorder.Handler());
  {
    Client client(server->port());
    REQUIRE(client.Send(
        "POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n"));
    CHECK(client.ReadBytes(25) == "HTTP/1.1 100 Continue\r\n\r\n");
    REQUIRE(client.Send("hello"));
    Answer answer = client.Read();
    CHECK(answer.status == 200);
    CHECK(answer.body == "hello");
  }
  Client client(server->port());
  REQUIRE(client.Send(
      "POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5000\r\n\r\n"));
  CheckServerError(client, 413, "request body larger than 1024 bytes");
  CHECK(recorder.calls == 1);
}

TEST_CASE(
    "a chunked body is received decoded, and one whose decoded size passes max_body_bytes is 413 "
    "and the handler is never called",
    "[webui]") {
  Recorder recorder([](const HttpRequest& request) { return HttpResponse{.body = request.body}; });
  auto server = StartServer({.max_body_bytes = 1024}, recorder.Handler());
  {
    Client client(server->port());
    REQUIRE(client.Send(PostChunked("5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n")));
    Answer answer = client.Read();
    CHECK(answer.status == 200);
    CHECK(answer.body == "hello world");
    // Exactly the limit, in four chunks.
    const std::string quarter(256, 'q');
    std::string chunks;
    for (int i = 0; i < 4; ++i) chunks += "100\r\n" + quarter + "\r\n";
    REQUIRE(client.Send(PostChunked(chunks + "0\r\n\r\n")));
    answer = client.Read();
    CHECK(answer.status == 200);
    CHECK(answer.body.size() == 1024);
  }
  CHECK(recorder.calls == 2);

  std::string chunks;
  for (int i = 0; i < 200; ++i) chunks += "a\r\n0123456789\r\n";  // 2000 bytes decoded
  Client client(server->port());
  REQUIRE(client.Send(PostChunked(chunks + "0\r\n\r\n")));
  CheckServerError(client, 413, "request body larger than 1024 bytes");
  CHECK(recorder.calls == 2);
  CheckStillServing(server->port());
}

TEST_CASE(
    "chunk sizes that are huge, negative or not hex are 400, the handler is never called, and "
    "the server keeps serving",
    "[webui]") {
  Recorder recorder;
  auto server = StartServer(recorder.Handler());
  for (std::string size : {"ffffffffffffffffffff", "-1", "zz", "1x", ""}) {
    INFO("chunk size '" << size << "'");
    Client client(server->port());
    REQUIRE(client.Send(PostChunked(size + "\r\nabc\r\n0\r\n\r\n")));
    CheckServerError(client, 400);
  }
  // A chunk line or trailer without end is cut where the read buffer ends (header limit + 64 KiB).
  std::string trailers;
  for (int i = 0; i < 20000; ++i) trailers += "X-Trailer: v\r\n";
  for (const std::string& body :
       {"1;" + std::string(200'000, 'x') + "\r\na\r\n0\r\n\r\n", "1\r\na\r\n0\r\n" + trailers}) {
    Client client(server->port());
    REQUIRE(client.Send(PostChunked(body)));
    CheckServerError(client, 400);
  }
  // A size that fits in 64 bits is only larger than the body limit.
  {
    Client client(server->port());
    REQUIRE(client.Send(PostChunked("fffffffffffffff\r\nabc\r\n0\r\n\r\n")));
    CheckServerError(client, 413);
  }
  CHECK(recorder.calls == 0);
  CheckStillServing(server->port());
  CHECK(recorder.calls == 1);
}

TEST_CASE(
    "both Content-Length and Transfer-Encoding, a Transfer-Encoding other than chunked, or a bad "
    "request line is 400 and the handler is never called",
    "[webui]") {
  Recorder recorder;
  auto server = StartServer(recorder.Handler());
  const std::vector<std::string> requests = {
      "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
      "3\r\nabc\r\n0\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"
      "3\r\nabc\r\n0\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\nabc",
      "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
      "GARBAGE\r\n\r\n",
      "GET / HTTP/9\r\n\r\n",
      "GET / HTTP/1.1\r\nNo colon here\r\n\r\n",
  };
  for (const std::string& request : requests) {
    INFO(request);
    Client client(server->port());
    REQUIRE(client.Send(request));
    CheckServerError(client, 400);
  }
  CHECK(recorder.calls == 0);
  CheckStillServing(server->port());
}

TEST_CASE(
    "a flood of header lines, one enormous header line, or more than max_headers fields is 431 "
    "and the handler is never called",
    "[webui]") {
  Recorder recorder;
  auto server = StartServer(recorder.Handler());  // 16 KiB of header, 100 fields
  std::string flood = "GET / HTTP/1.1\r\nHost: x\r\n";
  for (int i = 0; i < 5000; ++i) flood += "X-Flood-" + std::to_string(i) + ": v\r\n";
  const std::string enormous =
      "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(100'000, 'a') + "\r\n\r\n";
  for (const std::string& request : {flood + "\r\n", enormous}) {
    Client client(server->port());
    REQUIRE(client.Send(request));
    CheckServerError(client, 431, "request header larger than 16384 bytes");
  }
  std::string many = "GET / HTTP/1.1\r\nHost: x\r\n";
  for (int i = 0; i < 100; ++i) many += "X-" + std::to_string(i) + ": v\r\n";
  {
    Client client(server->port());
    REQUIRE(client.Send(many + "\r\n"));
    CheckServerError(client, 431, "more than 100 header fields");
  }
  CHECK(recorder.calls == 0);
  // 100 fields in all is allowed.
  {
    Client client(server->port());
    REQUIRE(client.Send(many.substr(0, many.rfind("X-99:")) + "\r\n"));
    CHECK(client.Read().status == 200);
  }
  CHECK(recorder.calls == 1);
}

TEST_CASE(
    "a slowloris client that sends part of a request line, or dribbles header bytes, is dropped "
    "after read_timeout",
    "[webui]") {
  Recorder recorder;
  auto server = StartServer({.read_timeout = 200ms}, recorder.Handler());
  {
    const auto start = Clock::now();
    Client client(server->port());
    REQUIRE(client.Send("GET / HT"));
    CHECK(client.WaitForClose());
    CHECK(Clock::now() - start >= 200ms);
  }
  {
    // One byte every 20 ms would keep a per-read timeout from ever firing.
    const auto start = Clock::now();
    Client client(server->port());
    REQUIRE(client.Send("GET / HTTP/1.1\r\nX-Slow: "));
    bool closed = false;
    int sent = 0;
    for (; sent < 250 && !closed; ++sent) {
      if (!client.Send("a")) break;
      closed = client.WaitReadable(20ms);
    }
    CHECK(client.WaitForClose());
    CHECK(sent >= 5);
    const auto elapsed = Clock::now() - start;
    CHECK(elapsed >= 200ms);
    CHECK(elapsed < 3s);
  }
  {
    // A connection that never sends a byte.
    Client client(server->port());
    CHECK(client.WaitForClose());
  }
  CHECK(recorder.calls == 0);
  CheckStillServing(server->port());
}

TEST_CASE("an idle kept-alive connection is closed after idle_timeout", "[webui]") {
  Recorder recorder;
  auto server = StartServer({.read_timeout = 10s, .idle_timeout = 200ms}, recorder.Handler());
  Client client(server->port());
  REQUIRE(client.Send("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  CHECK(client.Read().status == 200);
  const auto start = Clock::now();
  CHECK(client.WaitForClose());
  CHECK(Clock::now() - start < 3s);  // not the 10 s read timeout
}

TEST_CASE("a client that does not read its answer is dropped after write_timeout", "[webui]") {
  Recorder recorder([](const HttpRequest& request) {
    return HttpResponse{.body = std::string(request.path == "/big" ? 16 << 20 : 2, 'x')};
  });
  auto server = StartServer({.write_timeout = 200ms, .max_connections = 1}, recorder.Handler());
  Client reader(server->port(), /*ipv6=*/false, /*receive_buffer=*/4096);
  REQUIRE(reader.Send("GET /big HTTP/1.1\r\nHost: x\r\n\r\n"));
  // The only slot is taken until the write times out; then a new connection is served. Each try
  // that comes too early gets 503 at once.
  const auto deadline = Clock::now() + 5s;
  int status = 0;
  while (status != 200 && Clock::now() < deadline) {
    Client client(server->port());
    REQUIRE(client.Send("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    status = client.Read().status;
    if (status != 200 && status != 503) break;
  }
  CHECK(status == 200);
  // The reader gets less than the whole body before the connection ends.
  Answer answer = reader.Read();
  CHECK(answer.status == 0);
}

TEST_CASE(
    "with max_connections = 2 a third connection gets 503 and is closed, and once one closes a "
    "new one is served",
    "[webui]") {
  Recorder recorder;
  auto server = StartServer({.max_connections = 2}, recorder.Handler());
  Client first(server->port());
  Client second(server->port());
  {
    Client third(server->port());
    Answer answer = third.Read();
    CHECK(answer.status == 503);
    CHECK(answer.Value("retry-after") == "1");
    CHECK(Lower(answer.Value("connection")) == "close");
    CHECK(answer.Value("content-type") == "application/json");
    CheckSecurityHeaders(answer);
    CHECK(third.WaitForClose());
  }
  // The first two are served; the first then closes (the server closes it, so the slot is free
  // by the time the client sees the close).
  REQUIRE(second.Send("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  CHECK(second.Read().status == 200);
  REQUIRE(first.Send("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  CHECK(first.Read().status == 200);
  CHECK(first.WaitForClose());

  Client fourth(server->port());
  REQUIRE(fourth.Send("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  CHECK(fourth.Read().status == 200);
  CHECK(recorder.calls == 3);
}

TEST_CASE("a handler that throws gets a 500 JSON answer and the server keeps serving", "[webui]") {
  Recorder recorder([](const HttpRequest& request) -> HttpResponse {
    if (request.path == "/std") throw std::runtime_error("database is locked");
    if (request.path == "/int") throw 42;
    if (request.path == "/status") return HttpResponse{.status = 1000};
    return HttpResponse{.body = "fine"};
  });
  auto server = StartServer(recorder.Handler());
  Client client(server->port());
  for (std::string path : {"/std", "/int", "/status"}) {
    INFO(path);
    REQUIRE(client.Send("GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n"));
    Answer answer = client.Read();
    CHECK(answer.status == 500);
    CHECK(answer.body == R"({"error":"internal error"})");
    CHECK(answer.Value("content-type") == "application/json");
    CheckSecurityHeaders(answer);
  }
  REQUIRE(client.Send("GET /ok HTTP/1.1\r\nHost: x\r\n\r\n"));
  Answer answer = client.Read();
  CHECK(answer.status == 200);
  CHECK(answer.body == "fine");
}

// An event source for tests: one subscriber at a time.
class Hub {
 public:
  HttpHandler Handler() {
    return [this](const HttpRequest& request) {
      if (request.path != "/events") return HttpResponse{.body = "{}"};
      HttpResponse response;
      response.body = ": hello\n\n";
      response.stream = [this](std::function<void(std::string)> send) {
        {
          std::lock_guard lock(mutex_);
          send_ = std::move(send);
        }
        subscribed_.set_value();
        return [this] {
          if (++unsubscribes == 1) unsubscribed_.set_value();
        };
      };
      return response;
    };
  }

  void Send(std::string text) {
    std::function<void(std::string)> send;
    {
      std::lock_guard lock(mutex_);
      send = send_;
    }
    if (send) send(std::move(text));
  }

  bool WaitSubscribed() {
    return subscribed_.get_future().wait_for(5s) == std::future_status::ready;
  }
  bool WaitUnsubscribed() { return unsubscribed_future_.wait_for(5s) == std::future_status::ready; }

  std::atomic<int> unsubscribes = 0;

 private:
  std::mutex mutex_;
  std::function<void(std::string)> send_;
  std::promise<void> subscribed_;
  std::promise<void> unsubscribed_;
  std::future<void> unsubscribed_future_ = unsubscribed_.get_future();
};

void OpenEvents(Client& client, Hub& hub) {
  REQUIRE(client.Send("GET /events HTTP/1.1\r\nHost: x\r\n\r\n"));
  Answer answer = client.Read();
  CHECK(answer.status == 200);
  CHECK(answer.Value("content-type") == "text/event-stream");
  CHECK(answer.Value("cache-control") == "no-store");
  CHECK(Lower(answer.Value("connection")) == "keep-alive");
  CHECK(answer.Header("content-length") == nullptr);
  CHECK(answer.Header("transfer-encoding") == nullptr);
  CheckSecurityHeaders(answer);
  REQUIRE(hub.WaitSubscribed());
}

TEST_CASE(
    "an event stream delivers what another thread sends, in order, and unsubscribes exactly once "
    "when the client closes",
    "[webui]") {
  HttpServerOptions options;
  options.threads = GENERATE(1, 4);
  Hub hub;
  auto server = StartServer(options, hub.Handler());
  Client client(server->port());
  OpenEvents(client, hub);

  std::string expected = ": hello\n\n";
  for (int i = 0; i < 200; ++i) expected += "data: " + std::to_string(i) + "\n\n";
  std::thread sender([&] {
    for (int i = 0; i < 200; ++i) hub.Send("data: " + std::to_string(i) + "\n\n");
  });
  sender.join();
  CHECK(client.ReadBytes(expected.size()) == expected);
  CHECK(hub.unsubscribes == 0);

  client.Close();
  REQUIRE(hub.WaitUnsubscribed());
  hub.Send("data: too late\n\n");  // harmless
  CheckStillServing(server->port());
  server->Stop();
  hub.Send("data: after stop\n\n");
  server.reset();
  hub.Send("data: after the server is gone\n\n");
  CHECK(hub.unsubscribes == 1);
}

TEST_CASE(
    "Stop with an open event stream returns, closes it and unsubscribes once, and send afterwards "
    "is harmless",
    "[webui]") {
  Hub hub;
  auto server = StartServer(hub.Handler());
  Client client(server->port());
  OpenEvents(client, hub);
  hub.Send("data: 1\n\n");
  CHECK(client.ReadBytes(18) == ": hello\n\ndata: 1\n\n");

  server->Stop();
  CHECK(hub.unsubscribes == 1);
  CHECK(client.WaitForClose());
  hub.Send("data: 2\n\n");
  server->Stop();
  server.reset();
  hub.Send("data: 3\n\n");
  CHECK(hub.unsubscribes == 1);
}

TEST_CASE("an event stream whose reader falls more than 1 MiB behind is dropped and unsubscribed",
          "[webui]") {
  Hub hub;
  auto server = StartServer(hub.Handler());
  Client client(server->port(), /*ipv6=*/false, /*receive_buffer=*/4096);
  OpenEvents(client, hub);
  // 16 MiB never read: more than the kernel's socket buffers (4 MiB at most here) can hold.
  const std::string event = "data: " + std::string(1 << 20, 'x') + "\n\n";
  for (int i = 0; i < 16 && hub.unsubscribes == 0; ++i) hub.Send(event);
  REQUIRE(hub.WaitUnsubscribed());
  CHECK(hub.unsubscribes == 1);
  CheckStillServing(server->port());
}

TEST_CASE(
    "a host that is not an IP address is kInvalidArgument, a taken port is kIo, and Stop is "
    "idempotent",
    "[webui]") {
  Recorder recorder;
  for (std::string host : {"localhost", "not-an-ip", ""}) {
    auto server = HttpServer::Start({.host = host, .port = 0}, recorder.Handler());
    REQUIRE_FALSE(server);
    CHECK(server.error().code == ErrorCode::kInvalidArgument);
    CHECK(server.error().message.find("'" + host + "'") != std::string::npos);
  }
  auto bad_port = HttpServer::Start({.port = 70000}, recorder.Handler());
  REQUIRE_FALSE(bad_port);
  CHECK(bad_port.error().code == ErrorCode::kInvalidArgument);

  auto server = StartServer(recorder.Handler());
  const int port = server->port();
  CHECK(port > 0);
  auto taken = HttpServer::Start({.port = port}, recorder.Handler());
  REQUIRE_FALSE(taken);
  CHECK(taken.error().code == ErrorCode::kIo);
  INFO(taken.error().message);
  CHECK(taken.error().message.find("127.0.0.1:" + std::to_string(port)) != std::string::npos);
  CHECK(taken.error().message.find('\n') == std::string::npos);

  CheckStillServing(port);
  server->Stop();
  server->Stop();
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  CHECK(::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0);
  ::close(fd);
}

TEST_CASE("a server on ::1 sees its client as loopback", "[webui]") {
  Recorder recorder;
  auto server = HttpServer::Start({.host = "::1", .port = 0}, recorder.Handler());
  if (!server) {
    WARN("SKIPPED: cannot listen on ::1: " << server.error().message);
    return;
  }
  Client client((*server)->port(), /*ipv6=*/true);
  REQUIRE(client.Send("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  CHECK(client.Read().status == 200);
  auto requests = recorder.Requests();
  REQUIRE(requests.size() == 1);
  CHECK(requests[0].peer == "::1");
  CHECK(requests[0].from_loopback);

  // An IPv4 client of a socket bound to an IPv4-mapped address.
  auto mapped = HttpServer::Start({.host = "::ffff:127.0.0.1", .port = 0}, recorder.Handler());
  if (!mapped) {
    WARN("SKIPPED: cannot listen on ::ffff:127.0.0.1: " << mapped.error().message);
    return;
  }
  Client ipv4((*mapped)->port());
  REQUIRE(ipv4.Send("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  CHECK(ipv4.Read().status == 200);
  requests = recorder.Requests();
  REQUIRE(requests.size() == 2);
  CHECK(requests[1].peer == "::ffff:127.0.0.1");
  CHECK(requests[1].from_loopback);
}

}  // namespace
}  // namespace weir::webui
