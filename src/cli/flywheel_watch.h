// helix serve --flywheel-db REGISTRY: serves the adapter currently promoted under each name of the
// flywheel's registry (flywheel/registry.h) as ALIAS:NAME, and follows promotions and rollbacks
// while serving: a thread reads the registry's current pointers every second and loads a changed
// one through ServedAdapters::load (server/adapters.h), so requests in flight finish on the
// adapter they started with and new ones get the promoted one, without a restart.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <thread>

namespace helix::server {
class ServedAdapters;
}

namespace helix::cli {

class FlywheelWatch {
 public:
  // Loads every current adapter now (throws helix::Error when the registry cannot be opened), then
  // watches until destroyed.
  FlywheelWatch(const std::string& registry, std::shared_ptr<server::ServedAdapters> adapters, double period_s = 1.0);
  ~FlywheelWatch();
  FlywheelWatch(const FlywheelWatch&) = delete;
  FlywheelWatch& operator=(const FlywheelWatch&) = delete;

 private:
  void sync(bool first);

  std::string registry_;
  std::shared_ptr<server::ServedAdapters> adapters_;
  std::map<std::string, int64_t> served_;  // name -> promotion id now served
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace helix::cli
