// Op: an operation declared once, with one implementation per device. The device-neutral
// wrapper (in the module that owns the op) checks shapes and types, then calls the table entry
// for the tensors' device. A backend fills its entries at start-up (register_*_ops), so a CUDA
// backend or autograd wrappers attach to the same declaration without rewriting callers.
#pragma once

#include "core/error.h"
#include "core/tensor.h"

namespace helix {

template <typename Sig>
class Op;

template <typename R, typename... Args>
class Op<R(Args...)> {
 public:
  using Fn = R (*)(Args...);
  explicit constexpr Op(const char* name) : name_(name) {}

  void set(Device d, Fn fn) { impl_[static_cast<int>(d)] = fn; }
  bool has(Device d) const { return impl_[static_cast<int>(d)] != nullptr; }
  const char* name() const { return name_; }

  R operator()(Device d, Args... args) const {
    const Fn fn = impl_[static_cast<int>(d)];
    if (!fn)
      throw Error(cat("op '", name_, "' has no implementation on device ", device_name(d),
                      "; move the tensors to a device that has one"));
    return fn(args...);
  }

 private:
  const char* name_;
  Fn impl_[kNumDevices] = {};
};

}  // namespace helix
