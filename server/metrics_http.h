// The Prometheus endpoint: GET /metrics over plain HTTP (cpp-httplib, Debian's
// libcpp-httplib-dev), on its own address (--metrics_listen), off by default.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"

namespace httplib {
class Server;
}

namespace tensord::server {

class MetricsHttpServer {
 public:
  // Listens on `listen` ("host:port"; port 0 picks one); `render` makes the exposition.
  static absl::StatusOr<std::unique_ptr<MetricsHttpServer>> Start(
      const std::string& listen, std::function<std::string()> render);
  ~MetricsHttpServer();  // stops listening and joins the thread
  int port() const { return port_; }

 private:
  MetricsHttpServer();
  std::unique_ptr<httplib::Server> http_;
  std::thread thread_;
  int port_ = 0;
};

}  // namespace tensord::server
