// SPDX-License-Identifier: MIT
// The parameter types of a callable with one non-template call operator (lambdas, functions, functors),
// and the hook through which an adapter words the error for a handler of the wrong shape.
#ifndef TOLLGATE_DETAIL_CALLABLE_TRAITS_HPP
#define TOLLGATE_DETAIL_CALLABLE_TRAITS_HPP

#include <type_traits>

namespace tollgate::detail {

template <class... Ts>
struct type_list {
  static constexpr std::size_t size = sizeof...(Ts);
};

template <class F, class = void>
struct parameters_of {};  // generic lambdas and overloaded functors: no single signature

template <class F>
struct parameters_of<F, std::void_t<decltype(&F::operator())>> : parameters_of<decltype(&F::operator())> {};

#define TOLLGATE_DETAIL_MEMBER_SIGNATURE(QUALIFIERS)                  \
  template <class R, class C, class... A>                             \
  struct parameters_of<R (C::*)(A...) QUALIFIERS, void> {             \
    using type = type_list<A...>;                                     \
  };
TOLLGATE_DETAIL_MEMBER_SIGNATURE()
TOLLGATE_DETAIL_MEMBER_SIGNATURE(const)
TOLLGATE_DETAIL_MEMBER_SIGNATURE(noexcept)
TOLLGATE_DETAIL_MEMBER_SIGNATURE(const noexcept)
TOLLGATE_DETAIL_MEMBER_SIGNATURE(&)
TOLLGATE_DETAIL_MEMBER_SIGNATURE(const&)
#undef TOLLGATE_DETAIL_MEMBER_SIGNATURE

template <class R, class... A>
struct parameters_of<R (*)(A...), void> { using type = type_list<A...>; };
template <class R, class... A>
struct parameters_of<R (*)(A...) noexcept, void> { using type = type_list<A...>; };
template <class R, class... A>
struct parameters_of<R(A...), void> { using type = type_list<A...>; };

template <class F>
concept has_single_signature = requires { typename parameters_of<std::remove_cvref_t<F>>::type; };

/// False, but only once `T` is known: a static_assert on it fires only in a branch that is instantiated.
template <class T>
constexpr bool dependent_false = false;

/// How metered words the error for a handler of the wrong shape when one of its parameters is
/// `Native`. An adapter specialises it for its request and response types, with `known = true`
/// and a `refuse<Handler>()` whose one static_assert spells that framework's handler signature
/// (see tollgate/adapters/httplib.hpp). Otherwise metered says it in generic terms.
template <class Native>
struct handler_diagnostic {
  static constexpr bool known = false;
};

}  // namespace tollgate::detail

#endif  // TOLLGATE_DETAIL_CALLABLE_TRAITS_HPP
