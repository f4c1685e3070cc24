/* SPDX-License-Identifier: MIT */
/* Runs peer_tokio (bench/peer_tokio/: the same workloads on tokio's
 * current-thread runtime, a Rust program that bench/CMakeLists.txt builds
 * when TF_BENCH_TOKIO is on and passes here as TF_BENCH_TOKIO_PATH) as a
 * child process and reads its "result ..." line. Its own process: its
 * memory and threads stay out of the calling benchmark's figures.
 * Each function returns 1 with the figures, 0 when peer_tokio is not there
 * (not configured, or not built yet), -1 when it ran but printed no result
 * line that parses (the caller says so: a tokio figure never vanishes
 * quietly). */
#ifndef TF_BENCH_PEER_TOKIO_H
#define TF_BENCH_PEER_TOKIO_H

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The command running peer_tokio with args, into cmd; 0 if it is not there. */
static inline int peer_tokio_cmd(char *cmd, size_t len, const char *args) {
#ifdef TF_BENCH_TOKIO_PATH
    if (access(TF_BENCH_TOKIO_PATH, X_OK) != 0) return 0;
    /* Quoted: the build directory's path may hold spaces. */
    int k = snprintf(cmd, len, "'%s' %s", TF_BENCH_TOKIO_PATH, args);
    return k > 0 && (size_t)k < len;
#else
    (void)cmd;
    (void)len;
    (void)args;
    return 0;
#endif
}

/* The number after key (" name ") in line; 0 if it is missing. */
static inline int peer_field(const char *line, const char *key, double *v) {
    const char *p = strstr(line, key);
    if (!p) return 0;
    p += strlen(key);
    char *end;
    errno = 0;
    *v = strtod(p, &end);
    return end != p && errno == 0;
}

/* Runs peer_tokio with args; its first line starting with prefix goes into
 * line. Other lines are echoed to stdout. */
static inline int peer_tokio_line(const char *args, const char *prefix, char *line, size_t len) {
    char cmd[PATH_MAX + 128];
    if (!peer_tokio_cmd(cmd, sizeof cmd, args)) return 0;
    fflush(stdout);
    /* Our own build's binary, with numbers for arguments. */
    FILE *p = popen(cmd, "r"); /* NOLINT(cert-env33-c) */
    if (!p) return -1;
    int found = 0;
    char buf[512];
    while (fgets(buf, sizeof buf, p)) {
        if (!found && strncmp(buf, prefix, strlen(prefix)) == 0) {
            (void)snprintf(line, len, "%s", buf);
            found = 1;
        } else {
            fputs(buf, stdout);
        }
    }
    return pclose(p) == 0 && found ? 1 : -1;
}

/* bench_executor's workload: the best of rounds, M tasks/s, and peak RSS. */
static inline int peer_tokio_executor(size_t n, int rounds, double *mtps, double *peak_mib) {
    char args[64], line[512];
    (void)snprintf(args, sizeof args, "executor %zu %d", n, rounds);
    int rc = peer_tokio_line(args, "result executor ", line, sizeof line);
    if (rc <= 0) return rc;
    return peer_field(line, " best_mtps ", mtps) && peer_field(line, " peak_mib ", peak_mib) ? 1 : -1;
}

/* bench_wake's workload: the median round trip in microseconds. */
static inline int peer_tokio_wake(size_t n, int cpu_a, int cpu_b, double *median_us) {
    char args[80], line[512];
    (void)snprintf(args, sizeof args, "wake %zu %d %d", n, cpu_a, cpu_b);
    int rc = peer_tokio_line(args, "result wake ", line, sizeof line);
    if (rc <= 0) return rc;
    double ns;
    if (!peer_field(line, " median_ns ", &ns)) return -1;
    *median_us = ns / 1e3;
    return 1;
}

#endif
