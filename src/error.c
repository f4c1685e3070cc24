/* SPDX-License-Identifier: MIT */
/* Status strings and the run-time version. */
#include "internal.h"

const char *tf_strerror(int status) {
    switch (status) {
    case TF_OK: return "success (or pending, for a poll result)";
    case TF_READY: return "ready";
    case TF_EINVAL: return "invalid argument";
    case TF_EHANDLE: return "not a live handle of the expected type";
    case TF_ENOMEM: return "out of memory";
    case TF_ERANGE: return "duration or deadline out of range";
    case TF_ESHUTDOWN: return "executor has been shut down";
    case TF_ETIMEDOUT: return "timed out";
    case TF_EEMPTY: return "no task that could become ready";
    case TF_ECANCELED: return "timer was cancelled";
    case TF_ESTATE: return "operation not valid in the current state";
    case TF_EBUSY: return "resource busy";
    case TF_ETHREAD: return "could not create a thread";
    case TF_ESYS: return "system call failed";
    case TF_EVERSION: return "unsupported ABI version";
    case TF_EFORK: return "object was created before fork()";
    default: return "unknown status";
    }
}

uint32_t tf_version(void) { return TF_VERSION_NUMBER; }

const char *tf_version_string(void) { return TF_VERSION_STRING; }
