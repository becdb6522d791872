// SPDX-License-Identifier: MIT
// Usage tracking against plan limits, the core part: the usage_store concept, its in-memory store and
// the limited<> wrapper for create/delete endpoints. The Redis store is tollgate/usage/redis_usage_store.hpp.
#ifndef TOLLGATE_USAGE_HPP
#define TOLLGATE_USAGE_HPP

#include <tollgate/plans.hpp>
#include <tollgate/usage/usage_store.hpp>
#include <tollgate/usage/memory_usage_store.hpp>
#include <tollgate/usage/limited.hpp>

#endif  // TOLLGATE_USAGE_HPP
