/* SPDX-License-Identifier: MIT */
/* Small helpers for the benchmark programs: statistics and peak RSS. */
#ifndef TF_BENCH_UTIL_H
#define TF_BENCH_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static int bench_cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Sorts v in place; returns the p-th percentile (0..100). */
static inline uint64_t bench_percentile(uint64_t *v, size_t n, double p) {
    qsort(v, n, sizeof(*v), bench_cmp_u64);
    size_t i = (size_t)(p / 100.0 * (double)(n - 1) + 0.5);
    return v[i];
}

static inline double bench_mean(const uint64_t *v, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)v[i];
    return s / (double)n;
}

/* Peak resident set size of this process, in MiB. */
static inline double bench_peak_rss_mib(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0;
}

/* Current resident set size, in MiB (from /proc/self/statm). */
static inline double bench_rss_mib(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, resident = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
        fclose(f);
    }
    return (double)resident * 4096.0 / (1024.0 * 1024.0);
}

/* n with thousands separators ("1,000,000"), into buf; returns buf. */
static inline char *bench_count(char *buf, size_t len, size_t n) {
    char digits[32];
    int k = snprintf(digits, sizeof digits, "%zu", n), o = 0;
    for (int i = 0; i < k && (size_t)o + 2 < len; i++) {
        if (i && (k - i) % 3 == 0) buf[o++] = ',';
        buf[o++] = digits[i];
    }
    buf[o] = 0;
    return buf;
}

/* One machine-readable row of the README's benchmark table, for
 * scripts/bench-table.sh: "@row", then the workload, libtimefuture's
 * figure, the best peer's and the machine floor's (all from this run),
 * tab-separated. Humans can skip the line; the script fails when a bench
 * stops printing it. An empty field prints as "-". */
static inline void bench_row(const char *workload, const char *tf, const char *peer,
                             const char *floor_) {
    const char *f[4] = {workload, tf, peer, floor_};
    fputs("@row", stdout);
    for (int i = 0; i < 4; i++) {
        fputc('\t', stdout);
        /* A tab or newline inside a field would split the row. */
        const char *s = f[i] && f[i][0] ? f[i] : "-";
        for (; *s; s++) fputc(*s == '\t' || *s == '\n' ? ' ' : *s, stdout);
    }
    fputc('\n', stdout);
    fflush(stdout);
}

/* Runs fn(arg, out) in a child process and copies the len bytes it left
 * in out back; 0 on success, -1 when the child failed or died. A
 * measurement run so starts from this process's memory as it is, not
 * from a heap that an earlier run (of any contender) already faulted in,
 * and its peak RSS is its own. */
static inline int bench_in_child(void (*fn)(void *arg, void *out), void *arg, void *out,
                                 size_t len) {
    int fd[2];
    if (pipe(fd) != 0) return -1;
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        close(fd[0]);
        fn(arg, out);
        fflush(stdout);
        ssize_t w = write(fd[1], out, len);
        _exit(w == (ssize_t)len ? 0 : 1);
    }
    close(fd[1]);
    int ok = 0, status = 0;
    if (pid > 0) {
        ok = read(fd[0], out, len) == (ssize_t)len;
        ok = waitpid(pid, &status, 0) == pid && ok && WIFEXITED(status) &&
             WEXITSTATUS(status) == 0;
    }
    close(fd[0]);
    return ok ? 0 : -1;
}

/* CPU time so far, in ns, of this process's threads, in one pass over
 * /proc/self/task: *main_ns the main thread's (the one whose id is the
 * process's), ns[i] the sum over the threads named names[i] (the library
 * names its own: tf-driver, tf-worker). The run time the kernel's
 * scheduler counts (schedstat); 0 where that cannot be read. */
static inline void bench_threads_cpu_ns(uint64_t *main_ns, const char *const *names,
                                        uint64_t *ns, size_t n) {
    char path[64], comm[32];
    char self[24];
    (void)snprintf(self, sizeof self, "%ld", (long)getpid());
    *main_ns = 0;
    for (size_t i = 0; i < n; i++) ns[i] = 0;
    DIR *dir = opendir("/proc/self/task");
    if (!dir) return;
    const struct dirent *de;
    while ((de = readdir(dir)) != NULL) {
        if (de->d_name[0] == '.') continue;
        uint64_t *sum = strcmp(de->d_name, self) == 0 ? main_ns : NULL;
        if (!sum) {
            (void)snprintf(path, sizeof path, "/proc/self/task/%.16s/comm", de->d_name);
            FILE *f = fopen(path, "r");
            if (!f) continue;
            if (!fgets(comm, sizeof comm, f)) comm[0] = 0;
            (void)fclose(f);
            comm[strcspn(comm, "\n")] = 0;
            for (size_t i = 0; i < n && !sum; i++)
                if (strcmp(comm, names[i]) == 0) sum = &ns[i];
            if (!sum) continue;
        }
        (void)snprintf(path, sizeof path, "/proc/self/task/%.16s/schedstat", de->d_name);
        FILE *f = fopen(path, "r");
        unsigned long long run_ns;
        if (f) {
            if (fscanf(f, "%llu", &run_ns) == 1) *sum += run_ns;
            (void)fclose(f);
        }
    }
    closedir(dir);
}

/* Pins the calling thread to one CPU, or (cpu < 0) lets it run anywhere. */
static inline void bench_pin(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (cpu >= 0) {
        CPU_SET(cpu, &set);
    } else {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        for (long i = 0; i < n && i < CPU_SETSIZE; i++) CPU_SET((int)i, &set);
    }
    sched_setaffinity(0, sizeof(set), &set);
}

#endif
