// SPDX-License-Identifier: MIT
// tollgate's version, as numbers and as text.
#ifndef TOLLGATE_VERSION_HPP
#define TOLLGATE_VERSION_HPP

#define TOLLGATE_VERSION_MAJOR 0
#define TOLLGATE_VERSION_MINOR 1
#define TOLLGATE_VERSION_PATCH 0
#define TOLLGATE_VERSION_STRING "0.1.0"

#endif  // TOLLGATE_VERSION_HPP
