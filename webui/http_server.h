// The HTTP/1.1 server under `weir serve`: Boost.Beast on its own Asio threads, with every limit
// a hostile client could push against (body and header sizes, read and write timeouts, a
// connection cap) enforced before a handler runs. Beast stays inside http_server.cc.
//
//   auto server = HttpServer::Start({.port = 8080}, [](const HttpRequest& r) { ... });
//   if (!server) ...              // kInvalidArgument: bad host; kIo: the port is taken
//   (*server)->port();            // the bound port (useful with port 0)
//   (*server)->Stop();            // closes every connection; also done by the destructor
//
// Thread-safety: the handler is called on the server's threads, several at once; it must be
// thread-safe. Start, port and Stop may be called from any one thread.
#ifndef WEIR_WEBUI_HTTP_SERVER_H_
#define WEIR_WEBUI_HTTP_SERVER_H_

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.h"
#include "common/time.h"

namespace weir::webui {

struct HttpRequest {
  std::string method;  // as sent: "GET", "POST", ... (a HEAD comes as "GET"; the server drops
                       // the body of the answer)
  std::string path;    // the target before '?', still percent-encoded
  std::string query;   // the target after '?', still percent-encoded; empty when none
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased, in order
  std::string body;
  std::string peer;            // the client's address
  bool from_loopback = false;  // the client connected over 127.0.0.0/8 or ::1

  // The first header named `name` (lower-case), or null.
  const std::string* Header(std::string_view name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  // Sent as well (Set-Cookie, Location, Retry-After, Cache-Control...). The server adds the
  // security headers to every response itself.
  std::vector<std::pair<std::string, std::string>> headers;
  // Server-Sent Events: when set, the response has no length; after `body`, every string passed
  // to `send` is written as it comes, until the client goes away or the server stops. The
  // function subscribes `send` (which may be called from any thread) and returns what
  // unsubscribes it, which the server calls exactly once.
  std::function<std::function<void()>(std::function<void(std::string)> send)> stream;
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

struct HttpServerOptions {
  std::string host = "127.0.0.1";                     // an IPv4 or IPv6 address, not a name
  int port = 8080;                                    // 0: any free port (see HttpServer::port)
  std::size_t max_body_bytes = 1 << 20;               // larger bodies (however sent): 413
  std::size_t max_header_bytes = 16 << 10;            // request line and headers: larger is 431
  int max_headers = 100;                              // more header fields: 431
  Duration read_timeout = std::chrono::seconds(10);   // a whole request, from its first byte
  Duration write_timeout = std::chrono::seconds(10);  // a whole response (not an event stream)
  Duration idle_timeout = std::chrono::seconds(30);   // a kept-alive connection between requests
  int max_connections = 256;  // past this, a new connection gets 503 and is closed
  int threads = 2;            // Asio threads that read, call the handler and write
};

class HttpServer {
 public:
  // Binds and starts serving; returns once the port is bound.
  [[nodiscard]] static Result<std::unique_ptr<HttpServer>> Start(HttpServerOptions options,
                                                                 HttpHandler handler);
  virtual ~HttpServer() = default;
  virtual int port() const = 0;
  virtual void Stop() = 0;
};

}  // namespace weir::webui

#endif  // WEIR_WEBUI_HTTP_SERVER_H_
