// The registry watch of helix serve --flywheel-db (see flywheel_watch.h).
#include "cli/flywheel_watch.h"

#include <chrono>
#include <cstdio>
#include <filesystem>

#include "core/error.h"
#include "flywheel/registry.h"
#include "server/adapters.h"

namespace helix::cli {

FlywheelWatch::FlywheelWatch(const std::string& registry, std::shared_ptr<server::ServedAdapters> adapters,
                             double period_s)
    : registry_(registry), adapters_(std::move(adapters)) {
  flywheel::Registry reg(registry_);  // creates an empty registry, so promotions can come later
  sync(true);
  std::fprintf(stderr, "helix serve: following promotions in the flywheel registry '%s'\n", registry_.c_str());
  thread_ = std::thread([this, period_s] {
    const auto step = std::chrono::milliseconds(50);
    auto next = std::chrono::steady_clock::now();
    while (!stop_.load()) {
      std::this_thread::sleep_for(step);
      if (std::chrono::steady_clock::now() < next) continue;
      next = std::chrono::steady_clock::now() + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                                    std::chrono::duration<double>(period_s));
      try {
        sync(false);
      } catch (const std::exception& e) {  // a bad file keeps the adapter served now; say so and go on
        std::fprintf(stderr, "helix serve: warning: flywheel registry: %s\n", e.what());
      }
    }
  });
}

FlywheelWatch::~FlywheelWatch() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
}

void FlywheelWatch::sync(bool first) {
  flywheel::Registry reg(registry_);
  for (const flywheel::Promotion& p : reg.current_all()) {
    auto it = served_.find(p.name);
    if (it != served_.end() && it->second == p.id) continue;
    served_[p.name] = p.id;  // tried once: a file that fails to load is reported, not retried every second
    try {
      adapters_->load(p.name, p.adapter, cat("flywheel #", p.id, " (", p.action, ")"));
    } catch (const std::exception& e) {
      if (first) throw;
      std::fprintf(stderr, "helix serve: warning: flywheel #%lld (%s) not served: %s\n", static_cast<long long>(p.id),
                   p.name.c_str(), e.what());
    }
  }
}

}  // namespace helix::cli
