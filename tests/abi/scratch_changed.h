/* SPDX-License-Identifier: MIT */
/* Force-included into every source of the "changed" scratch library: the
 * real tf_now_ns is renamed out of the ABI, and scratch_changed.c exports a
 * tf_now_ns with another signature in its place. */
#define tf_now_ns tfx_scratch_orig_now_ns
