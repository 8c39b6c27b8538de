/* Multi-threaded test program for jitlink-reopt: THREADS threads call the
 * same hot functions (mix, then step, which loops) concurrently, so these
 * tier up (and their callers are redirected) while several threads run
 * them. Each thread's result is deterministic; they are printed in order
 * after joining.
 *
 * Usage: threads [ITERATIONS]   (default 200000) */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#define THREADS 4

static unsigned long long mix(unsigned long long x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

unsigned long long step(unsigned long long acc, long i) {
    for (int k = 0; k < 4; k++)
        acc = acc * 31 + mix(acc ^ (unsigned long long)(i + k));
    return acc;
}

struct job {
    long id, iterations;
    unsigned long long result;
};

static void *worker(void *arg) {
    struct job *j = arg;
    unsigned long long acc = (unsigned long long)j->id;
    for (long i = 0; i < j->iterations; i++)
        acc = step(acc, i);
    j->result = acc;
    return NULL;
}

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 200000;
    pthread_t t[THREADS];
    struct job jobs[THREADS];
    for (long k = 0; k < THREADS; k++) {
        jobs[k].id = k + 1;
        jobs[k].iterations = n;
        if (pthread_create(&t[k], NULL, worker, &jobs[k]) != 0) {
            fprintf(stderr, "pthread_create failed\n");
            return 1;
        }
    }
    for (int k = 0; k < THREADS; k++)
        pthread_join(t[k], NULL);
    for (int k = 0; k < THREADS; k++)
        printf("thread %d: %llu\n", k, jobs[k].result);
    return 0;
}
