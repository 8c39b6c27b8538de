// jitlink-executor, portable C version: runs code that jitlink links in
// another process (possibly another architecture, e.g. under qemu-user).
// Protocol: docs/executor-protocol.md (version 2, and 1 on request).
// Build with any C compiler on Linux:
//
//     $CC -O2 -o jitlink-executor executor-c/*.c -ldl
//
// Usage: jitlink-executor                  protocol on stdin/stdout
//        jitlink-executor --listen ADDR    one connection on HOST:PORT or unix:PATH
#define _GNU_SOURCE 1
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>
#include <unistd.h>

#define PROTOCOL_VERSION 2u
#define MAX_FRAME (1u << 30)

enum {
    OP_HELLO = 0x01,
    OP_RESERVE = 0x02,
    OP_RELEASE = 0x03,
    OP_WRITE = 0x04,
    OP_READ = 0x05,
    OP_FINALIZE = 0x06,
    OP_LOOKUP = 0x07,
    OP_RUN_MAIN = 0x08,
    OP_CALL = 0x09,
    OP_SHUTDOWN = 0x0a,
    OP_RESUME = 0x0b,
    OP_DEALLOCATE = 0x0c,
    OP_OK = 0x80,
    OP_ERROR = 0x81,
    OP_EXITED = 0x82,
    OP_FAULT = 0x83,
    OP_LAZY = 0x84
};

enum { ACT_REGISTER_EH_FRAME = 1, ACT_CALL_INIT = 2, ACT_AT_EXIT = 3, ACT_CXA_FINALIZE_AT_RELEASE = 4 };

#if defined(__x86_64__)
#define TRIPLE "x86_64-unknown-linux-gnu"
#define MULTIARCH "x86_64-linux-gnu"
#elif defined(__aarch64__)
#define TRIPLE "aarch64-unknown-linux-gnu"
#define MULTIARCH "aarch64-linux-gnu"
#elif defined(__riscv) && defined(__riscv_xlen) && __riscv_xlen == 64
#define TRIPLE "riscv64-unknown-linux-gnu"
#define MULTIARCH "riscv64-linux-gnu"
#elif defined(__powerpc64__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define TRIPLE "powerpc64le-unknown-linux-gnu"
#define MULTIARCH "powerpc64le-linux-gnu"
#elif defined(__powerpc64__)
#define TRIPLE "powerpc64-unknown-linux-gnu"
#define MULTIARCH "powerpc64-linux-gnu"
#else
#define TRIPLE "unknown-unknown-linux-gnu"
#define MULTIARCH "unknown"
#endif

extern char **environ;

static int proto_in = -1, proto_out = -1;
static int said_hello;
static size_t page_size = 4096;

/* ------------------------------------------------------------ I/O */

static int write_all(int fd, const void *p, size_t n) {
    const uint8_t *b = p;
    while (n > 0) {
        ssize_t w = write(fd, b, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

static int read_all(int fd, void *p, size_t n) {
    uint8_t *b = p;
    while (n > 0) {
        ssize_t r = read(fd, b, n);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (r == 0)
            return -1;
        b += r;
        n -= (size_t)r;
    }
    return 0;
}

/* A growable byte buffer for replies. */
struct buf {
    uint8_t *p;
    size_t len, cap;
};

static void fatal(const char *what) {
    fprintf(stderr, "jitlink-executor: %s\n", what);
    _exit(70);
}

static void put(struct buf *b, const void *d, size_t n) {
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        while (cap < b->len + n)
            cap *= 2;
        uint8_t *q = realloc(b->p, cap);
        if (!q)
            fatal("out of memory");
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->len, d, n);
    b->len += n;
}

static void put_u8(struct buf *b, uint8_t v) { put(b, &v, 1); }

static void enc_u32(uint8_t *o, uint32_t v) {
    for (int i = 0; i < 4; i++)
        o[i] = (uint8_t)(v >> (8 * i));
}

static void enc_u64(uint8_t *o, uint64_t v) {
    for (int i = 0; i < 8; i++)
        o[i] = (uint8_t)(v >> (8 * i));
}

static void put_u32(struct buf *b, uint32_t v) {
    uint8_t o[4];
    enc_u32(o, v);
    put(b, o, 4);
}

static void put_u64(struct buf *b, uint64_t v) {
    uint8_t o[8];
    enc_u64(o, v);
    put(b, o, 8);
}

static void put_str(struct buf *b, const char *s) {
    size_t n = strlen(s);
    put_u32(b, (uint32_t)n);
    put(b, s, n);
}

static void put_bytes(struct buf *b, const void *d, uint64_t n) {
    put_u64(b, n);
    put(b, d, (size_t)n);
}

/* Sends one message: the frame header, op, then the payload. */
static void send_msg(uint8_t op, const struct buf *payload) {
    size_t n = payload ? payload->len : 0;
    uint8_t h[5];
    enc_u32(h, (uint32_t)(n + 1));
    h[4] = op;
    if (write_all(proto_out, h, 5) != 0 || (n && write_all(proto_out, payload->p, n) != 0))
        _exit(0); /* the controller went away */
}

static void reply_ok(struct buf *payload) {
    send_msg(OP_OK, payload);
    if (payload)
        free(payload->p);
}

static void reply_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void reply_error(const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    struct buf b = {0};
    put_str(&b, msg);
    send_msg(OP_ERROR, &b);
    free(b.p);
}

/* A request payload being decoded; `bad` is set on any short read. */
struct rd {
    const uint8_t *p;
    size_t len, at;
    int bad;
};

static const uint8_t *take(struct rd *r, size_t n) {
    if (r->bad || r->len - r->at < n) {
        r->bad = 1;
        return NULL;
    }
    const uint8_t *q = r->p + r->at;
    r->at += n;
    return q;
}

static uint8_t get_u8(struct rd *r) {
    const uint8_t *q = take(r, 1);
    return q ? q[0] : 0;
}

static uint32_t get_u32(struct rd *r) {
    const uint8_t *q = take(r, 4);
    uint32_t v = 0;
    if (q)
        for (int i = 3; i >= 0; i--)
            v = (v << 8) | q[i];
    return v;
}

static uint64_t get_u64(struct rd *r) {
    const uint8_t *q = take(r, 8);
    uint64_t v = 0;
    if (q)
        for (int i = 7; i >= 0; i--)
            v = (v << 8) | q[i];
    return v;
}

/* A string as a fresh NUL-terminated copy (NULL when short; free it). */
static char *get_str(struct rd *r) {
    uint32_t n = get_u32(r);
    const uint8_t *q = take(r, n);
    if (!q)
        return NULL;
    char *s = malloc((size_t)n + 1);
    if (!s)
        fatal("out of memory");
    memcpy(s, q, n);
    s[n] = 0;
    return s;
}

static const uint8_t *get_bytes(struct rd *r, uint64_t *n) {
    *n = get_u64(r);
    if (*n > r->len)
        r->bad = 1;
    return take(r, (size_t)*n);
}

/* ----------------------------------------------------- signals, exit */

static const char *signal_name(int sig) {
    switch (sig) {
    case SIGSEGV: return "SIGSEGV";
    case SIGBUS: return "SIGBUS";
    case SIGILL: return "SIGILL";
    case SIGFPE: return "SIGFPE";
    case SIGABRT: return "SIGABRT";
    case SIGTRAP: return "SIGTRAP";
#ifdef SIGSYS
    case SIGSYS: return "SIGSYS";
#endif
    default: return "signal";
    }
}

/* Reports a fatal signal, then lets it kill the process (async-signal-safe). */
static void on_fault(int sig, siginfo_t *si, void *uc) {
    (void)uc;
    uint8_t m[64];
    const char *name = signal_name(sig);
    size_t nl = strlen(name);
    uint64_t addr = 0;
    if (si && (sig == SIGSEGV || sig == SIGBUS || sig == SIGILL || sig == SIGFPE))
        addr = (uint64_t)(uintptr_t)si->si_addr;
    size_t n = 1 + 4 + 8 + 4 + nl;
    enc_u32(m, (uint32_t)n);
    m[4] = OP_FAULT;
    enc_u32(m + 5, (uint32_t)sig);
    enc_u64(m + 9, addr);
    enc_u32(m + 17, (uint32_t)nl);
    memcpy(m + 21, name, nl);
    if (proto_out >= 0)
        (void)!write(proto_out, m, 4 + n);
    /* SA_RESETHAND restored the default action: die of the same signal. */
    signal(sig, SIG_DFL);
    raise(sig);
}

static void install_fault_handlers(void) {
    static uint8_t altstack[1 << 16];
    stack_t ss;
    memset(&ss, 0, sizeof ss);
    ss.ss_sp = altstack;
    ss.ss_size = sizeof altstack;
    sigaltstack(&ss, NULL);
    int sigs[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP,
#ifdef SIGSYS
                  SIGSYS
#endif
    };
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_sigaction = on_fault;
        sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESETHAND;
        sigemptyset(&sa.sa_mask);
        sigaction(sigs[i], &sa, NULL);
    }
}

#ifdef __GLIBC__
static void report_exit(int status, void *arg) {
    (void)arg;
    uint8_t m[9];
    enc_u32(m, 5);
    m[4] = OP_EXITED;
    enc_u32(m + 5, (uint32_t)status);
    if (proto_out >= 0)
        (void)!write(proto_out, m, sizeof m);
}
#endif

/* ------------------------------------------------------- memory */

/* Reentrancy (version 2): requests may arrive while JIT'd code runs (in
 * the lazy resolver), so no pointer into the tables below is kept while
 * JIT'd code runs: they may be reallocated meanwhile. */

struct action {
    uint8_t kind;
    uint64_t addr;
};

struct seg {
    uintptr_t addr;
    size_t size;
    int prot;
};

/* What one FINALIZE made of part of a reservation. */
struct group {
    uint64_t id;
    struct seg *segs;
    size_t nsegs;
    struct action *release; /* run in reverse at RELEASE / DEALLOCATE */
    size_t nrelease;
};

struct resv {
    uintptr_t base;
    size_t len;
    int live;
    uint64_t seq;
    struct group *groups; /* live FINALIZEs, in order */
    size_t ngroups;
};

static struct resv *resvs;
static size_t nresvs;
static uint64_t next_seq = 1;

/* Exit-time finalisers of every live group, in the order given. */
struct at_exit_fn {
    uint64_t resv_seq, group;
    size_t order;
    uint64_t addr;
};
static struct at_exit_fn *at_exit_fns;
static size_t nat_exit_fns, at_exit_order;

static void flush_icache(uintptr_t start, size_t len) {
#if defined(__GNUC__) || defined(__clang__)
    __builtin___clear_cache((char *)start, (char *)(start + len));
#else
    (void)start;
    (void)len;
#endif
}

/* Copies d to addr: one atomic store for 4 bytes at a 4-aligned address (a
 * patched branch) or 8 at an 8-aligned one (a stub slot). */
static void store(uintptr_t addr, const uint8_t *d, size_t len) {
#if defined(__GNUC__) || defined(__clang__)
    if (len == 4 && (addr & 3) == 0) {
        uint32_t v;
        memcpy(&v, d, 4);
        __atomic_store_n((uint32_t *)addr, v, __ATOMIC_RELEASE);
        return;
    }
    if (len == 8 && (addr & 7) == 0) {
        uint64_t v;
        memcpy(&v, d, 8);
        __atomic_store_n((uint64_t *)addr, v, __ATOMIC_RELEASE);
        return;
    }
#endif
    memcpy((void *)addr, d, len);
}

static size_t round_page(size_t n) { return (n + page_size - 1) & ~(page_size - 1); }

static uintptr_t libc_anchor(void) {
    void *p = dlsym(RTLD_DEFAULT, "stdout");
    return p ? (uintptr_t)p : (uintptr_t)&malloc;
}

#ifndef MAP_NORESERVE
#define MAP_NORESERVE 0
#endif

/* Maps len RW bytes at exactly hint, or returns 0. */
static uintptr_t map_at(uintptr_t hint, size_t len) {
    int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
#ifdef MAP_FIXED_NOREPLACE
    flags |= MAP_FIXED_NOREPLACE;
#endif
    void *p = mmap((void *)hint, len, PROT_READ | PROT_WRITE, flags, -1, 0);
    if (p == MAP_FAILED)
        return 0;
    if ((uintptr_t)p != hint) {
        munmap(p, len);
        return 0;
    }
    return hint;
}

/* Maps len bytes anywhere, aligned to align (a power of two >= page). */
static uintptr_t map_anywhere(size_t len, size_t align, int extra) {
    size_t total = len + align;
    void *p = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | extra, -1, 0);
    if (p == MAP_FAILED)
        return 0;
    uintptr_t a = ((uintptr_t)p + align - 1) & ~(uintptr_t)(align - 1);
    if (a > (uintptr_t)p)
        munmap(p, a - (uintptr_t)p);
    uintptr_t end = (uintptr_t)p + total;
    if (end > a + len)
        munmap((void *)(a + len), end - (a + len));
    return a;
}

static uintptr_t reserve_memory(size_t len, size_t align, int low) {
    const uintptr_t step = (uintptr_t)32 << 20, limit = (uintptr_t)1 << 31;
    if (low) {
        for (uintptr_t at = (uintptr_t)0x10000000; at + len < limit; at += step) {
            uintptr_t a = (at + align - 1) & ~(uintptr_t)(align - 1);
            if (a + len < limit && map_at(a, len))
                return a;
        }
#if defined(__x86_64__) && defined(MAP_32BIT)
        if (align <= page_size) {
            uintptr_t a = map_anywhere(len, page_size, MAP_32BIT);
            if (a && a + len <= limit)
                return a;
        }
#endif
        return 0;
    }
    uintptr_t anchor = libc_anchor();
    for (uintptr_t k = 1; k < 48; k++) {
        if (anchor > k * step + len) {
            uintptr_t below = (anchor - k * step - len) & ~(uintptr_t)(align - 1);
            if (below && anchor - below < limit - ((uintptr_t)64 << 20) && map_at(below, len))
                return below;
        }
        uintptr_t above = (anchor + k * step + align - 1) & ~(uintptr_t)(align - 1);
        if (above + len - anchor < limit - ((uintptr_t)64 << 20) && map_at(above, len))
            return above;
    }
    return map_anywhere(len, align, 0);
}

static struct resv *find_resv(uint64_t base) {
    for (size_t i = 0; i < nresvs; i++)
        if (resvs[i].live && resvs[i].base == base)
            return &resvs[i];
    return NULL;
}

/* The reservation holding [addr, addr+len), if any. */
static struct resv *resv_containing(uint64_t addr, uint64_t len) {
    for (size_t i = 0; i < nresvs; i++) {
        struct resv *r = &resvs[i];
        if (r->live && addr >= r->base && len <= r->len && addr - r->base <= r->len - len)
            return r;
    }
    return NULL;
}

static void *runtime_fn(const char *name) {
    void *p = dlsym(RTLD_DEFAULT, name);
    if (!p && (strcmp(name, "__register_frame") == 0 || strcmp(name, "__deregister_frame") == 0)) {
        void *h = dlopen("libgcc_s.so.1", RTLD_NOW | RTLD_GLOBAL);
        if (h)
            p = dlsym(h, name);
    }
    return p;
}

static int at_exit_later_first(const void *a, const void *b) {
    const struct at_exit_fn *x = a, *y = b;
    if (x->resv_seq != y->resv_seq)
        return x->resv_seq > y->resv_seq ? -1 : 1;
    if (x->group != y->group)
        return x->group > y->group ? -1 : 1;
    return x->order < y->order ? -1 : 1;
}

/* Runs the exit-time finalisers of every live link, latest link first
 * (reservations latest first, and the FINALIZEs of each latest first). */
static void run_at_exit(void) {
    struct at_exit_fn *fns = at_exit_fns;
    size_t n = nat_exit_fns;
    at_exit_fns = NULL;
    nat_exit_fns = 0;
    if (n)
        qsort(fns, n, sizeof *fns, at_exit_later_first);
    for (size_t k = 0; k < n; k++)
        ((void (*)(void))(uintptr_t)fns[k].addr)();
    free(fns);
}

/* Drops the exit-time finalisers of a reservation (group 0: all of it) or
 * of one group. */
static void drop_at_exit(uint64_t resv_seq, uint64_t group) {
    size_t k = 0;
    for (size_t i = 0; i < nat_exit_fns; i++)
        if (!(at_exit_fns[i].resv_seq == resv_seq && (group == 0 || at_exit_fns[i].group == group)))
            at_exit_fns[k++] = at_exit_fns[i];
    nat_exit_fns = k;
}

static void free_group(struct group *g) {
    free(g->segs);
    free(g->release);
}

/* Appends group g's release actions, latest first, to *out. */
static void collect_release(const struct group *g, struct action **out, size_t *n) {
    if (!g->nrelease)
        return;
    struct action *a = realloc(*out, (*n + g->nrelease) * sizeof *a);
    if (!a)
        fatal("out of memory");
    for (size_t i = g->nrelease; i-- > 0;)
        a[(*n)++] = g->release[i];
    *out = a;
}

/* Runs release actions with no pointer into the tables held (they run
 * JIT'd destructors). */
static void run_release(const struct action *acts, size_t n) {
    for (size_t i = 0; i < n; i++) {
        const char *fn = acts[i].kind == ACT_REGISTER_EH_FRAME ? "__deregister_frame" : "__cxa_finalize";
        void (*f)(void *) = (void (*)(void *))(uintptr_t)runtime_fn(fn);
        if (f)
            f((void *)(uintptr_t)acts[i].addr);
    }
}

/* The lazy resolver (version 2). */
static uint64_t serve(int until_resume);

static uint64_t lazy_failed(void) { return 0; }

#if defined(PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP)
/* One thread at a time talks to the controller from inside JIT'd code; the
 * same thread may re-enter. */
static pthread_mutex_t resolver_mu = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
#define RESOLVER_LOCK() pthread_mutex_lock(&resolver_mu)
#define RESOLVER_UNLOCK() pthread_mutex_unlock(&resolver_mu)
#else
#define RESOLVER_LOCK() ((void)0)
#define RESOLVER_UNLOCK() ((void)0)
#endif

/* Bootstrap symbol __jitlink_lazy_resolve: called by the re-entry routine
 * with a lazy trampoline's context, sends LAZY context, serves the
 * controller's requests until RESUME address, and returns the address to
 * continue at (a function returning 0 when the controller says 0). errno
 * is preserved. */
static uint64_t jitlink_lazy_resolve(uint64_t context) {
    RESOLVER_LOCK();
    int saved = errno;
    struct buf b = {0};
    put_u64(&b, context);
    send_msg(OP_LAZY, &b);
    free(b.p);
    uint64_t a = serve(1);
    errno = saved;
    RESOLVER_UNLOCK();
    return a ? a : (uint64_t)(uintptr_t)&lazy_failed;
}

/* --------------------------------------------------------- requests */

static void do_hello(struct rd *r) {
    uint32_t v = get_u32(r);
    if (r->bad) {
        reply_error("malformed HELLO");
        return;
    }
    /* Testing aid: JITLINK_EXECUTOR_MAX_VERSION=1 behaves as a version-1 executor. */
    uint32_t max = PROTOCOL_VERSION;
    const char *mv = getenv("JITLINK_EXECUTOR_MAX_VERSION");
    if (mv && atoi(mv) >= 1 && (uint32_t)atoi(mv) < max)
        max = (uint32_t)atoi(mv);
    if (v < 1 || v > max) {
        reply_error("protocol version %u is not supported (this executor speaks versions 1 to %u)", v, max);
        return;
    }
    said_hello = 1;
    struct buf b = {0};
    put_u32(&b, v);
    put_str(&b, TRIPLE);
    put_u64(&b, page_size);
    put_u8(&b, (uint8_t)sizeof(void *));
    uint16_t one = 1;
    put_u8(&b, *(uint8_t *)&one == 0);
    put_u32(&b, (uint32_t)getpid());
    static const char *const names[] = {"__register_frame", "__deregister_frame", "__cxa_atexit", "__cxa_finalize",
                                        "atexit", "exit", "dlopen", "dlsym", "malloc", "free"};
    uint64_t addrs[sizeof names / sizeof names[0]];
    uint32_t count = 0;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        void *p = strcmp(names[i], "atexit") == 0 ? (void *)(uintptr_t)&atexit : runtime_fn(names[i]);
        addrs[i] = (uint64_t)(uintptr_t)p;
        count += p != NULL;
    }
    put_u32(&b, count + 1);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (addrs[i]) {
            put_str(&b, names[i]);
            put_u64(&b, addrs[i]);
        }
    }
    put_str(&b, "__jitlink_lazy_resolve");
    put_u64(&b, (uint64_t)(uintptr_t)&jitlink_lazy_resolve);
    reply_ok(&b);
}

static void do_reserve(struct rd *r) {
    uint64_t size = get_u64(r), align = get_u64(r);
    uint32_t flags = get_u32(r);
    if (r->bad) {
        reply_error("malformed RESERVE");
        return;
    }
    if (align == 0 || (align & (align - 1)) != 0 || align > ((uint64_t)1 << 30)) {
        reply_error("RESERVE: alignment %llu is not a power of two up to 1 GiB", (unsigned long long)align);
        return;
    }
    if (size == 0 || size > ((uint64_t)1 << 40)) {
        reply_error("RESERVE: bad size %llu", (unsigned long long)size);
        return;
    }
    if (align < page_size)
        align = page_size;
    size_t len = round_page((size_t)size);
    uintptr_t a = reserve_memory(len, (size_t)align, flags & 1);
    if (!a) {
        reply_error("RESERVE: cannot map %zu bytes%s: %s", len, (flags & 1) ? " below 2 GiB" : "", strerror(errno));
        return;
    }
    /* Slots are appended, never reused: exit-time finalisers run in
     * reverse reservation order. */
    struct resv *slot;
    struct resv *grown = realloc(resvs, (nresvs + 1) * sizeof *resvs);
    if (!grown) {
        munmap((void *)a, len);
        reply_error("RESERVE: out of memory");
        return;
    }
    resvs = grown;
    slot = &resvs[nresvs++];
    memset(slot, 0, sizeof *slot);
    slot->base = a;
    slot->len = len;
    slot->live = 1;
    slot->seq = next_seq++;
    struct buf b = {0};
    put_u64(&b, a);
    reply_ok(&b);
}

static void do_release(struct rd *r) {
    uint64_t base = get_u64(r);
    if (r->bad) {
        reply_error("malformed RELEASE");
        return;
    }
    struct resv *v = find_resv(base);
    if (!v) {
        reply_error("RELEASE: no reservation at 0x%llx", (unsigned long long)base);
        return;
    }
    struct action *acts = NULL;
    size_t nacts = 0;
    for (size_t g = v->ngroups; g-- > 0;) {
        collect_release(&v->groups[g], &acts, &nacts);
        free_group(&v->groups[g]);
    }
    free(v->groups);
    v->groups = NULL;
    v->ngroups = 0;
    v->live = 0;
    drop_at_exit(v->seq, 0);
    uintptr_t vbase = v->base;
    size_t vlen = v->len;
    run_release(acts, nacts); /* may re-enter: v is not used after this */
    free(acts);
    munmap((void *)vbase, vlen);
    reply_ok(NULL);
}

/* DEALLOCATE (version 2): releases the FINALIZEs inside a page-aligned
 * range of a reservation and gives it fresh zeroed read-write pages. */
static void do_deallocate(struct rd *r) {
    uint64_t addr = get_u64(r), size = get_u64(r);
    if (r->bad) {
        reply_error("malformed DEALLOCATE");
        return;
    }
    struct resv *v = resv_containing(addr, size);
    if (!v || (addr & (page_size - 1)) != 0 || addr + round_page((size_t)size) > v->base + v->len) {
        reply_error("DEALLOCATE: [0x%llx, +%llu) is not a page-aligned range of memory this executor reserved",
                    (unsigned long long)addr, (unsigned long long)size);
        return;
    }
    uintptr_t lo = (uintptr_t)addr, hi = (uintptr_t)addr + round_page((size_t)size);
    for (size_t g = 0; g < v->ngroups; g++) {
        int touches = 0, inside = 1;
        for (size_t i = 0; i < v->groups[g].nsegs; i++) {
            struct seg *sg = &v->groups[g].segs[i];
            if (sg->addr < hi && sg->addr + sg->size > lo)
                touches = 1;
            if (sg->addr < lo || sg->addr + sg->size > hi)
                inside = 0;
        }
        if (touches && !inside) {
            reply_error("DEALLOCATE: [0x%llx, +%llu) cuts through the segments of an earlier FINALIZE",
                        (unsigned long long)addr, (unsigned long long)size);
            return;
        }
    }
    struct action *acts = NULL;
    size_t nacts = 0, kept = 0;
    uint64_t *gone = NULL;
    size_t ngone = 0;
    for (size_t g = 0; g < v->ngroups; g++) {
        struct group *gr = &v->groups[g];
        int touches = 0;
        for (size_t i = 0; i < gr->nsegs; i++)
            if (gr->segs[i].addr < hi && gr->segs[i].addr + gr->segs[i].size > lo)
                touches = 1;
        if (!touches) {
            v->groups[kept++] = *gr;
            continue;
        }
        uint64_t *q = realloc(gone, (ngone + 1) * sizeof *q);
        if (!q)
            fatal("out of memory");
        gone = q;
        gone[ngone++] = gr->id;
        struct action *mine = NULL;
        size_t nmine = 0;
        collect_release(gr, &mine, &nmine);
        /* Latest group first: prepend. */
        struct action *all = realloc(mine, (nmine + nacts) * sizeof *all);
        if (!all && nmine + nacts)
            fatal("out of memory");
        if (nacts)
            memcpy(all + nmine, acts, nacts * sizeof *acts);
        free(acts);
        acts = all;
        nacts += nmine;
        free_group(gr);
    }
    v->ngroups = kept;
    for (size_t i = 0; i < ngone; i++)
        drop_at_exit(v->seq, gone[i]);
    free(gone);
    run_release(acts, nacts); /* may re-enter: v is not used after this */
    free(acts);
    void *p = mmap((void *)lo, hi - lo, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE,
                   -1, 0);
    if (p == MAP_FAILED) {
        reply_error("DEALLOCATE: mmap failed: %s", strerror(errno));
        return;
    }
    reply_ok(NULL);
}

/* The protection of the finalized segment holding addr (read-write outside
 * every segment). */
static int prot_at(const struct resv *v, uintptr_t addr) {
    for (size_t g = 0; g < v->ngroups; g++)
        for (size_t i = 0; i < v->groups[g].nsegs; i++) {
            const struct seg *sg = &v->groups[g].segs[i];
            if (addr >= sg->addr && addr - sg->addr < round_page(sg->size))
                return sg->prot;
        }
    return PROT_READ | PROT_WRITE;
}

static void do_write(struct rd *r) {
    uint32_t n = get_u32(r);
    size_t start = r->at;
    /* Check every range first: a failed request changes nothing. */
    for (uint32_t i = 0; i < n && !r->bad; i++) {
        uint64_t addr = get_u64(r), len;
        get_bytes(r, &len);
        if (!r->bad && !resv_containing(addr, len)) {
            reply_error("WRITE: [0x%llx, +%llu) is not in memory this executor reserved", (unsigned long long)addr,
                        (unsigned long long)len);
            return;
        }
    }
    if (r->bad) {
        reply_error("malformed WRITE");
        return;
    }
    r->at = start;
    for (uint32_t i = 0; i < n; i++) {
        uint64_t addr = get_u64(r), len;
        const uint8_t *d = get_bytes(r, &len);
        if (len == 0)
            continue;
        struct resv *v = resv_containing(addr, len);
        uintptr_t lo = (uintptr_t)addr & ~(uintptr_t)(page_size - 1);
        uintptr_t hi = round_page((size_t)(addr + len));
        int prot = prot_at(v, (uintptr_t)addr) | prot_at(v, (uintptr_t)(addr + len - 1));
        int locked = !(prot & PROT_WRITE);
        if (locked && mprotect((void *)lo, hi - lo, PROT_READ | PROT_WRITE) != 0) {
            reply_error("WRITE: mprotect failed: %s", strerror(errno));
            return;
        }
        store((uintptr_t)addr, d, (size_t)len);
        if (locked) {
            mprotect((void *)lo, hi - lo, prot & ~PROT_WRITE);
            if (prot & PROT_EXEC)
                flush_icache((uintptr_t)addr, (size_t)len);
        }
    }
    reply_ok(NULL);
}

static void do_read(struct rd *r) {
    uint64_t addr = get_u64(r), len = get_u64(r);
    if (r->bad) {
        reply_error("malformed READ");
        return;
    }
    if (!resv_containing(addr, len)) {
        reply_error("READ: [0x%llx, +%llu) is not in memory this executor reserved", (unsigned long long)addr,
                    (unsigned long long)len);
        return;
    }
    struct buf b = {0};
    put_bytes(&b, (const void *)(uintptr_t)addr, len);
    reply_ok(&b);
}

static void do_finalize(struct rd *r) {
    uint64_t base = get_u64(r);
    uint32_t nseg = get_u32(r);
    if (r->bad || nseg > r->len) {
        reply_error("malformed FINALIZE");
        return;
    }
    struct resv *v = find_resv(base);
    if (!v) {
        reply_error("FINALIZE: no reservation at 0x%llx", (unsigned long long)base);
        return;
    }
    struct seg *segs = calloc(nseg ? nseg : 1, sizeof *segs);
    const uint8_t **content = calloc(nseg ? nseg : 1, sizeof *content);
    uint64_t *clen = calloc(nseg ? nseg : 1, sizeof *clen);
    if (!segs || !content || !clen)
        fatal("out of memory");
#define FAIL(...)                                                                                                      \
    do {                                                                                                               \
        reply_error(__VA_ARGS__);                                                                                      \
        free(segs);                                                                                                    \
        free(content);                                                                                                 \
        free(clen);                                                                                                    \
        return;                                                                                                        \
    } while (0)
    for (uint32_t i = 0; i < nseg; i++) {
        uint64_t addr = get_u64(r), size = get_u64(r);
        uint8_t prot = get_u8(r);
        content[i] = get_bytes(r, &clen[i]);
        if (r->bad)
            FAIL("malformed FINALIZE");
        if (size > v->len || addr < v->base || addr - v->base > v->len - size || (addr & (page_size - 1)) != 0 ||
            clen[i] > size)
            FAIL("FINALIZE: segment [0x%llx, +%llu) with %llu bytes of content does not fit reservation "
                 "[0x%llx, +%zu) on page boundaries",
                 (unsigned long long)addr, (unsigned long long)size, (unsigned long long)clen[i],
                 (unsigned long long)v->base, v->len);
        if ((prot & 6) == 6 || (prot & ~7) != 0)
            FAIL("FINALIZE: protection %u is not allowed (never write and execute)", prot);
        uintptr_t lo = (uintptr_t)addr, hi = (uintptr_t)addr + round_page((size_t)size);
        int overlap = 0;
        for (size_t g = 0; g < v->ngroups && size; g++)
            for (size_t k = 0; k < v->groups[g].nsegs; k++) {
                struct seg *o = &v->groups[g].segs[k];
                if (o->size && o->addr < hi && o->addr + round_page(o->size) > lo)
                    overlap = 1;
            }
        for (uint32_t k = 0; k < i && size; k++)
            if (segs[k].size && segs[k].addr < hi && segs[k].addr + round_page(segs[k].size) > lo)
                overlap = 1;
        if (overlap)
            FAIL("FINALIZE: segment [0x%llx, +%llu) overlaps a segment already finalized (deallocate it first)",
                 (unsigned long long)addr, (unsigned long long)size);
        segs[i].addr = (uintptr_t)addr;
        segs[i].size = (size_t)size;
        segs[i].prot = ((prot & 1) ? PROT_READ : 0) | ((prot & 2) ? PROT_WRITE : 0) | ((prot & 4) ? PROT_EXEC : 0);
    }
    uint32_t nact = get_u32(r);
    if (r->bad || nact > r->len)
        FAIL("malformed FINALIZE");
    struct action *acts = calloc(nact ? nact : 1, sizeof *acts);
    if (!acts)
        fatal("out of memory");
    for (uint32_t i = 0; i < nact && !r->bad; i++) {
        acts[i].kind = get_u8(r);
        acts[i].addr = get_u64(r);
        get_u64(r);
        if (!r->bad && (acts[i].kind < 1 || acts[i].kind > 4)) {
            unsigned kind = acts[i].kind;
            free(acts);
            FAIL("FINALIZE: unknown action kind %u", kind);
        }
        if (!r->bad && acts[i].kind == ACT_REGISTER_EH_FRAME && !runtime_fn("__register_frame")) {
            free(acts);
            FAIL("FINALIZE: this executor has no __register_frame (libgcc_s) to register .eh_frame");
        }
    }
    if (r->bad) {
        free(acts);
        FAIL("malformed FINALIZE");
    }
    for (uint32_t i = 0; i < nseg; i++) {
        memcpy((void *)segs[i].addr, content[i], (size_t)clen[i]);
        memset((void *)(segs[i].addr + (size_t)clen[i]), 0, segs[i].size - (size_t)clen[i]);
    }
    for (uint32_t i = 0; i < nseg; i++) {
        if (segs[i].size == 0)
            continue;
        if (mprotect((void *)segs[i].addr, round_page(segs[i].size), segs[i].prot) != 0) {
            free(acts);
            FAIL("FINALIZE: mprotect of [0x%llx, +%zu) failed: %s", (unsigned long long)segs[i].addr, segs[i].size,
                 strerror(errno));
        }
        if (segs[i].prot & PROT_EXEC)
            flush_icache(segs[i].addr, segs[i].size);
    }
#undef FAIL
    free(content);
    free(clen);
    /* The group, with its release actions recorded now, in order. */
    struct group *gs = realloc(v->groups, (v->ngroups + 1) * sizeof *gs);
    if (!gs)
        fatal("out of memory");
    v->groups = gs;
    struct group *g = &gs[v->ngroups++];
    memset(g, 0, sizeof *g);
    g->id = next_seq++;
    g->segs = segs;
    g->nsegs = nseg;
    for (uint32_t i = 0; i < nact; i++) {
        if (acts[i].kind != ACT_REGISTER_EH_FRAME && acts[i].kind != ACT_CXA_FINALIZE_AT_RELEASE)
            continue;
        struct action *q = realloc(g->release, (g->nrelease + 1) * sizeof *q);
        if (!q)
            fatal("out of memory");
        g->release = q;
        q[g->nrelease++] = acts[i];
    }
    uint64_t resv_seq = v->seq, group = g->id;
    /* Actions run JIT'd code, which may come back with requests (lazy
     * calls): no pointer into the tables is used from here on. */
    for (uint32_t i = 0; i < nact; i++) {
        uint64_t addr = acts[i].addr;
        switch (acts[i].kind) {
        case ACT_REGISTER_EH_FRAME: {
            void (*f)(void *) = (void (*)(void *))(uintptr_t)runtime_fn("__register_frame");
            f((void *)(uintptr_t)addr);
            break;
        }
        case ACT_CALL_INIT:
            ((void (*)(void))(uintptr_t)addr)();
            break;
        case ACT_AT_EXIT: {
            struct at_exit_fn *q = realloc(at_exit_fns, (nat_exit_fns + 1) * sizeof *q);
            if (!q)
                fatal("out of memory");
            at_exit_fns = q;
            q[nat_exit_fns].resv_seq = resv_seq;
            q[nat_exit_fns].group = group;
            q[nat_exit_fns].order = at_exit_order++;
            q[nat_exit_fns].addr = addr;
            nat_exit_fns++;
            break;
        }
        default: break; /* CXA_FINALIZE_AT_RELEASE: recorded above */
        }
    }
    free(acts);
    reply_ok(NULL);
}

/* ------------------------------------------------------- libraries */

struct lib {
    char *name;
    void *handle;
};
static struct lib *libs;
static size_t nlibs;

static void *open_in_dirs(const char *name) {
    char prefix[300];
    snprintf(prefix, sizeof prefix, "lib%s.so.", name);
    size_t pl = strlen(prefix);
    const char *fixed[] = {"/lib64", "/usr/lib64", "/lib/" MULTIARCH, "/usr/lib/" MULTIARCH, "/lib", "/usr/lib",
                           "/usr/local/lib"};
    char *ldp = getenv("LD_LIBRARY_PATH") ? strdup(getenv("LD_LIBRARY_PATH")) : NULL;
    const char *dirs[64];
    size_t nd = 0;
    for (char *save = NULL, *t = ldp ? strtok_r(ldp, ":", &save) : NULL; t && nd < 32; t = strtok_r(NULL, ":", &save))
        dirs[nd++] = t;
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        dirs[nd++] = fixed[i];
    void *h = NULL;
    for (size_t i = 0; i < nd && !h; i++) {
        DIR *d = opendir(dirs[i]);
        if (!d)
            continue;
        struct dirent *e;
        while (!h && (e = readdir(d)) != NULL) {
            if (strncmp(e->d_name, prefix, pl) == 0 && e->d_name[pl] >= '0' && e->d_name[pl] <= '9') {
                h = dlopen(e->d_name, RTLD_NOW | RTLD_GLOBAL);
                if (!h) {
                    char path[4096];
                    snprintf(path, sizeof path, "%s/%s", dirs[i], e->d_name);
                    h = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
                }
            }
        }
        closedir(d);
    }
    free(ldp);
    return h;
}

/* Opens a library by path or -l name; on failure NULL and *err set. */
static void *open_library(const char *name, char *err, size_t errlen) {
    if (strchr(name, '/')) {
        void *h = dlopen(name, RTLD_NOW | RTLD_GLOBAL);
        if (!h)
            snprintf(err, errlen, "cannot open %s: %s", name, dlerror());
        return h;
    }
    static const char *const known[][2] = {{"m", "libm.so.6"},         {"c", "libc.so.6"},
                                           {"dl", "libdl.so.2"},       {"pthread", "libpthread.so.0"},
                                           {"rt", "librt.so.1"},       {"stdc++", "libstdc++.so.6"},
                                           {"gcc_s", "libgcc_s.so.1"}, {"util", "libutil.so.1"}};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        if (strcmp(known[i][0], name) == 0) {
            void *h = dlopen(known[i][1], RTLD_NOW | RTLD_GLOBAL);
            if (h)
                return h;
        }
    }
    char so[300];
    snprintf(so, sizeof so, "lib%s.so", name);
    void *h = dlopen(so, RTLD_NOW | RTLD_GLOBAL);
    if (h)
        return h;
    snprintf(err, errlen, "cannot open library -l%s: %s", name, dlerror());
    h = open_in_dirs(name);
    return h;
}

static void do_lookup(struct rd *r) {
    uint32_t nl = get_u32(r);
    for (uint32_t i = 0; i < nl && !r->bad; i++) {
        char *name = get_str(r);
        if (!name)
            break;
        int have = 0;
        for (size_t k = 0; k < nlibs; k++)
            have |= strcmp(libs[k].name, name) == 0;
        if (have) {
            free(name);
            continue;
        }
        char err[1024] = "";
        void *h = open_library(name, err, sizeof err);
        if (!h) {
            reply_error("LOOKUP: %s", err);
            free(name);
            return;
        }
        struct lib *grown = realloc(libs, (nlibs + 1) * sizeof *libs);
        if (!grown)
            fatal("out of memory");
        libs = grown;
        libs[nlibs].name = name;
        libs[nlibs].handle = h;
        nlibs++;
    }
    uint32_t nn = get_u32(r);
    if (r->bad || nn > r->len) {
        reply_error("malformed LOOKUP");
        return;
    }
    struct buf b = {0};
    put_u32(&b, nn);
    for (uint32_t i = 0; i < nn; i++) {
        char *name = get_str(r);
        if (!name) {
            free(b.p);
            reply_error("malformed LOOKUP");
            return;
        }
        void *p = NULL;
        for (size_t k = 0; k < nlibs && !p; k++)
            p = dlsym(libs[k].handle, name);
        if (!p)
            p = dlsym(RTLD_DEFAULT, name);
        if (!p) {
            /* Functions of libc_nonshared.a: the executor's own copies. */
            if (strcmp(name, "atexit") == 0)
                p = (void *)(uintptr_t)&atexit;
            else if (strcmp(name, "at_quick_exit") == 0)
                p = (void *)(uintptr_t)&at_quick_exit;
            else if (strcmp(name, "pthread_atfork") == 0)
                p = (void *)(uintptr_t)&pthread_atfork;
        }
        put_u64(&b, (uint64_t)(uintptr_t)p);
        free(name);
    }
    reply_ok(&b);
}

/* ------------------------------------------------------------ running */

static void do_run_main(struct rd *r) {
    uint64_t addr = get_u64(r);
    uint32_t argc = get_u32(r);
    if (r->bad || argc > r->len) {
        reply_error("malformed RUN_MAIN");
        return;
    }
    char **argv = calloc((size_t)argc + 1, sizeof *argv);
    if (!argv)
        fatal("out of memory");
    for (uint32_t i = 0; i < argc; i++) {
        argv[i] = get_str(r);
        if (!argv[i]) {
            for (uint32_t k = 0; k < i; k++)
                free(argv[k]);
            free(argv);
            reply_error("malformed RUN_MAIN");
            return;
        }
    }
    if (addr == 0) {
        reply_error("RUN_MAIN: entry point at address 0");
        return;
    }
    int (*entry)(int, char **, char **) = (int (*)(int, char **, char **))(uintptr_t)addr;
    int status = entry((int)argc, argv, environ);
    struct buf b = {0};
    put_u32(&b, (uint32_t)status);
    reply_ok(&b);
}

typedef uint64_t u64;
static void do_call(struct rd *r) {
    uint64_t addr = get_u64(r);
    uint32_t n = get_u32(r);
    u64 a[6] = {0};
    if (n > 6) {
        reply_error("CALL: %u arguments (at most 6)", n);
        return;
    }
    for (uint32_t i = 0; i < n; i++)
        a[i] = get_u64(r);
    if (r->bad) {
        reply_error("malformed CALL");
        return;
    }
    if (addr == 0) {
        reply_error("CALL: function at address 0");
        return;
    }
    uintptr_t f = (uintptr_t)addr;
    u64 v = 0;
    switch (n) {
    case 0: v = ((u64(*)(void))f)(); break;
    case 1: v = ((u64(*)(u64))f)(a[0]); break;
    case 2: v = ((u64(*)(u64, u64))f)(a[0], a[1]); break;
    case 3: v = ((u64(*)(u64, u64, u64))f)(a[0], a[1], a[2]); break;
    case 4: v = ((u64(*)(u64, u64, u64, u64))f)(a[0], a[1], a[2], a[3]); break;
    case 5: v = ((u64(*)(u64, u64, u64, u64, u64))f)(a[0], a[1], a[2], a[3], a[4]); break;
    default: v = ((u64(*)(u64, u64, u64, u64, u64, u64))f)(a[0], a[1], a[2], a[3], a[4], a[5]); break;
    }
    struct buf b = {0};
    put_u64(&b, v);
    reply_ok(&b);
}

static const char *op_name(uint8_t op) {
    static const char *const names[] = {"",       "HELLO",    "RESERVE", "RELEASE",  "WRITE",  "READ",      "FINALIZE",
                                        "LOOKUP", "RUN_MAIN", "CALL",    "SHUTDOWN", "RESUME", "DEALLOCATE"};
    return op < sizeof names / sizeof names[0] ? names[op] : "";
}

static void dispatch(uint8_t op, struct rd *r) {
    /* Testing aid: JITLINK_EXECUTOR_STALL=NAME never answers that request. */
    const char *stall = getenv("JITLINK_EXECUTOR_STALL");
    if (stall && *op_name(op) && strcmp(stall, op_name(op)) == 0) {
        fprintf(stderr, "jitlink-executor: stalling at %s (pid %d)\n", stall, (int)getpid());
        for (;;)
            pause();
    }
    if (!said_hello && op != OP_HELLO) {
        reply_error("expected HELLO first, got request 0x%02x", op);
        return;
    }
    switch (op) {
    case OP_HELLO: do_hello(r); break;
    case OP_RESERVE: do_reserve(r); break;
    case OP_RELEASE: do_release(r); break;
    case OP_WRITE: do_write(r); break;
    case OP_READ: do_read(r); break;
    case OP_FINALIZE: do_finalize(r); break;
    case OP_LOOKUP: do_lookup(r); break;
    case OP_RUN_MAIN: do_run_main(r); break;
    case OP_CALL: do_call(r); break;
    case OP_DEALLOCATE: do_deallocate(r); break;
    case OP_RESUME: reply_error("RESUME without a pending LAZY"); break;
    case OP_SHUTDOWN: {
        uint32_t status = get_u32(r);
        if (r->bad) {
            reply_error("malformed SHUTDOWN");
            return;
        }
        exit((int)status);
    }
    default: reply_error("unknown request 0x%02x", op); break;
    }
}

/* ------------------------------------------------------------ setup */

static int listen_once(const char *addr) {
    int ls;
    const char *path = strncmp(addr, "unix:", 5) == 0 ? addr + 5 : (strchr(addr, '/') ? addr : NULL);
    if (path) {
        struct sockaddr_un sa;
        memset(&sa, 0, sizeof sa);
        sa.sun_family = AF_UNIX;
        if (strlen(path) >= sizeof sa.sun_path) {
            fprintf(stderr, "jitlink-executor: socket path too long: %s\n", path);
            return -1;
        }
        strcpy(sa.sun_path, path);
        unlink(path);
        ls = socket(AF_UNIX, SOCK_STREAM, 0);
        if (ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(ls, 1) != 0) {
            fprintf(stderr, "jitlink-executor: cannot listen on %s: %s\n", addr, strerror(errno));
            return -1;
        }
    } else {
        char host[256];
        const char *colon = strrchr(addr, ':');
        if (!colon || (size_t)(colon - addr) >= sizeof host) {
            fprintf(stderr, "jitlink-executor: --listen %s: expected HOST:PORT or unix:PATH\n", addr);
            return -1;
        }
        memcpy(host, addr, (size_t)(colon - addr));
        host[colon - addr] = 0;
        struct addrinfo hints, *ai = NULL;
        memset(&hints, 0, sizeof hints);
        hints.ai_socktype = SOCK_STREAM;
        hints.ai_flags = AI_PASSIVE;
        if (getaddrinfo(host, colon + 1, &hints, &ai) != 0 || !ai) {
            fprintf(stderr, "jitlink-executor: --listen %s: cannot resolve\n", addr);
            return -1;
        }
        ls = socket(ai->ai_family, SOCK_STREAM, 0);
        int one = 1;
        setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (ls < 0 || bind(ls, ai->ai_addr, ai->ai_addrlen) != 0 || listen(ls, 1) != 0) {
            fprintf(stderr, "jitlink-executor: cannot listen on %s: %s\n", addr, strerror(errno));
            freeaddrinfo(ai);
            return -1;
        }
        freeaddrinfo(ai);
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        if (getsockname(ls, (struct sockaddr *)&ss, &sl) == 0) {
            int port = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                                : ntohs(((struct sockaddr_in *)&ss)->sin_port);
            fprintf(stderr, "jitlink-executor: listening on %s:%d\n", host, port);
        }
    }
    int c;
    do
        c = accept(ls, NULL, NULL);
    while (c < 0 && errno == EINTR);
    close(ls);
    if (path)
        unlink(path);
    if (c < 0) {
        fprintf(stderr, "jitlink-executor: accept failed: %s\n", strerror(errno));
        return -1;
    }
    return c;
}

int main(int argc, char **argv) {
    long ps = sysconf(_SC_PAGESIZE);
    if (ps > 0)
        page_size = (size_t)ps;
    if (argc == 3 && strcmp(argv[1], "--listen") == 0) {
        int c = listen_once(argv[2]);
        if (c < 0)
            return 2;
        fcntl(c, F_SETFD, FD_CLOEXEC);
        proto_in = proto_out = c;
    } else if (argc == 1) {
        proto_in = fcntl(0, F_DUPFD_CLOEXEC, 10);
        proto_out = fcntl(1, F_DUPFD_CLOEXEC, 10);
        if (proto_in < 0 || proto_out < 0)
            fatal("cannot duplicate the protocol descriptors");
        const char *s = getenv("JITLINK_EXECUTOR_STDIO");
        int in = -1, out = -1;
        if (s && sscanf(s, "%d,%d", &in, &out) == 2 && in >= 0 && out >= 0) {
            dup2(in, 0);
            dup2(out, 1);
            if (in > 2)
                close(in);
            if (out > 2 && out != in)
                close(out);
        } else {
            int n = open("/dev/null", O_RDONLY);
            if (n >= 0) {
                dup2(n, 0);
                if (n > 2)
                    close(n);
            }
            dup2(2, 1);
        }
        unsetenv("JITLINK_EXECUTOR_STDIO");
    } else {
        fprintf(stderr, "usage: %s [--listen HOST:PORT | --listen unix:PATH]\n", argv[0]);
        return 2;
    }
    install_fault_handlers();
#ifdef __GLIBC__
    on_exit(report_exit, NULL);
#endif
    atexit(run_at_exit);
    serve(0);
    return 0;
}

/* Reads and serves requests; with until_resume, returns the address of the
 * first RESUME. Ends the process when the controller goes away. */
static uint64_t serve(int until_resume) {
    for (;;) {
        uint8_t h[4];
        if (read_all(proto_in, h, 4) != 0)
            _exit(0);
        uint32_t len = (uint32_t)h[0] | (uint32_t)h[1] << 8 | (uint32_t)h[2] << 16 | (uint32_t)h[3] << 24;
        if (len == 0 || len > MAX_FRAME) {
            reply_error("bad frame length %u: closing", len);
            _exit(2);
        }
        uint8_t *body = malloc(len);
        if (!body) {
            reply_error("out of memory for a %u-byte request: closing", len);
            _exit(2);
        }
        if (read_all(proto_in, body, len) != 0)
            _exit(0);
        struct rd r = {body + 1, len - 1, 0, 0};
        if (body[0] == OP_RESUME && until_resume) {
            uint64_t a = get_u64(&r);
            int bad = r.bad;
            free(body);
            if (!bad)
                return a;
            reply_error("malformed RESUME");
            continue;
        }
        dispatch(body[0], &r);
        free(body);
    }
}
