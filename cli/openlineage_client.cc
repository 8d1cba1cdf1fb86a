#include "cli/openlineage_client.h"

#include <fmt/format.h>
#include <httplib.h>

#include <charconv>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <thread>

#include "common/strings.h"

namespace weir::cli {
namespace {

std::string Env(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? std::string() : std::string(value);
}

// "http://host:port/base" -> ("http://host:port", "/base")
Result<std::pair<std::string, std::string>> SplitUrl(const std::string& url) {
  std::size_t scheme = url.find("://");
  if (scheme == std::string::npos ||
      (url.substr(0, scheme) != "http" && url.substr(0, scheme) != "https")) {
    return Fail(ErrorCode::kInvalidArgument,
                fmt::format("OPENLINEAGE_URL '{}': use http://HOST[:PORT][/PATH] or https://...",
                            Printable(url)));
  }
  std::size_t path = url.find('/', scheme + 3);
  std::string host = url.substr(0, path);
  std::string base = path == std::string::npos ? "" : url.substr(path);
  while (base.ends_with("/")) base.pop_back();
  if (host.size() <= scheme + 3) {
    return Fail(ErrorCode::kInvalidArgument,
                fmt::format("OPENLINEAGE_URL '{}' has no host", Printable(url)));
  }
  return std::pair{host, base};
}

}  // namespace

Result<std::optional<OpenLineageConfig>> OpenLineageConfigFromEnvironment() {
  OpenLineageConfig config;
  config.url = Env("OPENLINEAGE_URL");
  if (config.url.empty()) return std::optional<OpenLineageConfig>();
  if (auto split = SplitUrl(config.url); !split) return std::unexpected(split.error());
  config.api_key = Env("OPENLINEAGE_API_KEY");
  if (std::string ns = Env("OPENLINEAGE_NAMESPACE"); !ns.empty()) config.job_namespace = ns;
  if (std::string queue = Env("WEIR_OPENLINEAGE_QUEUE"); !queue.empty()) {
    std::size_t bound = 0;
    auto [end, ec] = std::from_chars(queue.data(), queue.data() + queue.size(), bound);
    if (ec != std::errc() || end != queue.data() + queue.size() || bound == 0) {
      return Fail(ErrorCode::kInvalidArgument,
                  fmt::format("WEIR_OPENLINEAGE_QUEUE '{}': use a whole number of events, 1 or "
                              "more",
                              Printable(queue)));
    }
    config.queue_bound = bound;
  }
  if (std::string delay = Env("WEIR_OPENLINEAGE_RETRY_DELAY"); !delay.empty()) {
    auto parsed = ParseDuration(delay);
    if (!parsed) {
      return Fail(ErrorCode::kInvalidArgument,
                  fmt::format("WEIR_OPENLINEAGE_RETRY_DELAY: {}", parsed.error().message));
    }
    config.retry_delay = *parsed;
  }
  return std::optional<OpenLineageConfig>(std::move(config));
}

class OpenLineageClient::Impl {
 public:
  Impl(OpenLineageConfig config, std::function<void(const std::string&)> log)
      : config_(std::move(config)), log_(std::move(log)) {
    auto split = SplitUrl(config_.url);
    host_ = split ? split->first : config_.url;
    path_ = (split ? split->second : "") + "/api/v1/lineage";
    thread_ = std::thread([this] { Loop(); });
  }

  ~Impl() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
      deadline_ = std::chrono::steady_clock::now() + config_.flush_timeout;
    }
    cv_.notify_all();
    thread_.join();
    std::size_t unsent = queue_.size();
    if (dropped_ + failed_ + rejected_ + unsent > 0) {
      Log(fmt::format(
          "openlineage: {} events sent to {}; {} dropped (queue full), {} failed after {} tries, "
          "{} refused by the server, {} not sent before exit",
          sent_, config_.url, dropped_, failed_, config_.max_tries, rejected_, unsent));
    }
  }

  void Send(std::vector<std::string> events) {
    {
      std::lock_guard lock(mu_);
      for (std::string& e : events) {
        if (queue_.size() >= config_.queue_bound) {
          if (dropped_++ == 0) {
            Log(fmt::format("openlineage: the queue of {} events is full; dropping events",
                            config_.queue_bound));
          }
          continue;
        }
        queue_.push_back(std::move(e));
      }
    }
    cv_.notify_all();
  }

  const OpenLineageConfig& config() const { return config_; }

 private:
  void Log(const std::string& line) {
    if (log_) log_(line);
  }

  bool PastDeadline() const { return stopping_ && std::chrono::steady_clock::now() >= deadline_; }

  void Loop() {
    httplib::Client client(host_);
    client.set_connection_timeout(std::chrono::seconds(2));
    client.set_read_timeout(std::chrono::seconds(5));
    client.set_write_timeout(std::chrono::seconds(5));
    httplib::Headers headers;
    if (!config_.api_key.empty()) {
      headers.emplace("Authorization", "Bearer " + config_.api_key);
    }
    std::unique_lock lock(mu_);
    while (true) {
      cv_.wait(lock, [&] { return !queue_.empty() || stopping_; });
      if (queue_.empty() || PastDeadline()) return;
      std::string event = queue_.front();
      lock.unlock();
      Duration delay = config_.retry_delay;
      for (int attempt = 1;; ++attempt) {
        auto result = client.Post(path_, headers, event, "application/json");
        if (result && result->status >= 200 && result->status < 300) {
          ++sent_;
          break;
        }
        if (result && result->status >= 400 && result->status < 500) {
          if (rejected_++ == 0) {
            Log(fmt::format("openlineage: {} refused an event: HTTP {}", config_.url,
                            result->status));
          }
          break;
        }
        std::string why =
            result ? fmt::format("HTTP {}", result->status) : httplib::to_string(result.error());
        if (attempt >= config_.max_tries) {
          if (failed_++ == 0) {
            Log(
                fmt::format("openlineage: cannot send to {} ({}); the run goes on, events are "
                            "counted as lost",
                            config_.url, why));
          }
          break;
        }
        std::unique_lock wait(mu_);
        auto until = std::chrono::steady_clock::now() + delay;
        if (stopping_) until = std::min(until, deadline_);
        cv_.wait_until(wait, until, [&] { return PastDeadline(); });
        if (PastDeadline()) return;
        delay *= 2;
      }
      lock.lock();
      queue_.pop_front();
    }
  }

  OpenLineageConfig config_;
  std::function<void(const std::string&)> log_;
  std::string host_;
  std::string path_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> queue_;
  bool stopping_ = false;
  std::chrono::steady_clock::time_point deadline_;
  std::size_t sent_ = 0, dropped_ = 0, failed_ = 0, rejected_ = 0;
  std::thread thread_;
};

OpenLineageClient::OpenLineageClient(OpenLineageConfig config,
                                     std::function<void(const std::string&)> log)
    : impl_(std::make_unique<Impl>(std::move(config), std::move(log))) {}
OpenLineageClient::~OpenLineageClient() = default;
void OpenLineageClient::Send(std::vector<std::string> events) { impl_->Send(std::move(events)); }
const OpenLineageConfig& OpenLineageClient::config() const { return impl_->config(); }

}  // namespace weir::cli
