// Sends OpenLineage events to a lineage server (Marquez, ...) as runs happen: POST
// {url}/api/v1/lineage, one event a request, from a thread of its own so that scheduling never
// waits for the network. Configured from the environment, as OpenLineage's own clients are:
//
//   OPENLINEAGE_URL              the server; unset: nothing is sent
//   OPENLINEAGE_API_KEY          a bearer token, sent as "Authorization: Bearer ..."
//   OPENLINEAGE_NAMESPACE        the namespace of jobs and datasets (default "weir")
//   WEIR_OPENLINEAGE_QUEUE       events held while the server is slow or down (default 10000)
//   WEIR_OPENLINEAGE_RETRY_DELAY first retry delay, doubling per retry (default 1s; 5 tries)
//
// A server error (5xx) or a connection failure is retried with backoff; a 4xx is not (the
// event is counted as rejected). When the queue is full, new events are dropped and counted.
// Destruction sends what is queued for at most `flush_timeout`, then reports the counts.
#ifndef WEIR_CLI_OPENLINEAGE_CLIENT_H_
#define WEIR_CLI_OPENLINEAGE_CLIENT_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/time.h"

namespace weir::cli {

struct OpenLineageConfig {
  std::string url;  // scheme://host[:port][/base]
  std::string api_key;
  std::string job_namespace = "weir";
  std::size_t queue_bound = 10'000;
  Duration retry_delay = std::chrono::seconds(1);
  int max_tries = 5;
  Duration flush_timeout = std::chrono::seconds(10);
};

// The configuration from the environment; nullopt when OPENLINEAGE_URL is unset, an error for
// a malformed value.
[[nodiscard]] Result<std::optional<OpenLineageConfig>> OpenLineageConfigFromEnvironment();

class OpenLineageClient {
 public:
  // `log` receives one line per problem and the final counts.
  OpenLineageClient(OpenLineageConfig config, std::function<void(const std::string&)> log);
  ~OpenLineageClient();
  OpenLineageClient(const OpenLineageClient&) = delete;
  OpenLineageClient& operator=(const OpenLineageClient&) = delete;

  // Queues events (JSON text) to send; never blocks on the network.
  void Send(std::vector<std::string> events);
  const OpenLineageConfig& config() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace weir::cli

#endif  // WEIR_CLI_OPENLINEAGE_CLIENT_H_
