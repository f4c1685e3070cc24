/* SPDX-License-Identifier: MIT */
/* The exported function table for programs that dlopen() the library.
 * Append-only, like sqlite3_api_routines: never reorder or remove. The
 * entries come from the one list of the ABI, src/api_list.h; designated
 * initializers, so that entries of the same type cannot be swapped by a
 * mistake in order, and a static assert per entry that its member sits at
 * its index in the header's tf_api_v1. */
#include "internal.h"
#include "api_list.h"

typedef void (*tf__any_fn)(void);
#define TF_API_OFFSET(i) (2 * sizeof(uint32_t) + (size_t)(i) * sizeof(tf__any_fn))

#define TF_API_ENTRY(i, member, fn, since) .member = (fn),
static const tf_api_v1 api_v1 = {
    .size = sizeof(tf_api_v1),
    .version = TF_VERSION_NUMBER,
    TF_API_V1_LIST(TF_API_ENTRY)
};

#define TF_API_AT(i, member, fn, since)                                     \
    _Static_assert(offsetof(tf_api_v1, member) == TF_API_OFFSET(i),         \
                   #member " is not at index " #i " of tf_api_v1");         \
    _Static_assert((since) <= TF_VERSION_MINOR, #fn " is from the future");
TF_API_V1_LIST(TF_API_AT)

/* Every member of the header's table is in the list: the last entry ends
 * the struct. */
/* Expands to "+1" per entry: a sum, not an expression to parenthesize. */
#define TF_API_COUNT(i, member, fn, since) +1 // NOLINT(bugprone-macro-parentheses)
_Static_assert(sizeof(tf_api_v1) == TF_API_OFFSET(0 TF_API_V1_LIST(TF_API_COUNT)),
               "tf_api_v1 has members that src/api_list.h lacks");

const void *tf_get_api(uint32_t abi_major) {
    /* Every 1.x library serves the v1 table; an older caller reads only
     * the prefix it knows. */
    return abi_major == 1 ? &api_v1 : NULL;
}
