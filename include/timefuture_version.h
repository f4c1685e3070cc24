/* SPDX-License-Identifier: MIT */
/**
 * @file timefuture_version.h
 * @brief Compile-time version of libtimefuture.
 *
 * The build reads the numbers below, so this header is the single source of
 * the version. Compare with tf_version() at run time to detect a mismatch
 * between the header a program was built with and the library it loaded.
 */
#ifndef TIMEFUTURE_VERSION_H
#define TIMEFUTURE_VERSION_H

/** Major version: changes only with an incompatible ABI (never, we hope). */
#define TF_VERSION_MAJOR 1
/** Minor version: grows when functions are added (a new version node). */
#define TF_VERSION_MINOR 3
/** Patch version: fixes that change no interface. */
#define TF_VERSION_PATCH 0

/** The version as one number: `(major << 16) | (minor << 8) | patch`. */
#define TF_VERSION_NUMBER \
    ((TF_VERSION_MAJOR << 16) | (TF_VERSION_MINOR << 8) | TF_VERSION_PATCH)

/** @cond TF_INTERNAL */
#define TF_VERSION_STR_(x) #x
#define TF_VERSION_STR(x) TF_VERSION_STR_(x)
/** @endcond */

/** The version as a string, e.g. "1.0.0". */
#define TF_VERSION_STRING                                                     \
    TF_VERSION_STR(TF_VERSION_MAJOR) "." TF_VERSION_STR(TF_VERSION_MINOR) "." \
    TF_VERSION_STR(TF_VERSION_PATCH)

#endif /* TIMEFUTURE_VERSION_H */
