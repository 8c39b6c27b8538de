/* N-body simulation (the Computer Language Benchmarks Game's, with a
 * configurable step count): a compute-heavy test program for jitlink-reopt.
 *
 * Usage: nbody [STEPS]   (default 1000)
 * Prints the system's energy before and after, and a checksum of the
 * final positions, with %.9f: the output is the same at -O0 and -O2
 * (no FMA contraction on generic x86-64, no fast-math). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define PI 3.141592653589793
#define SOLAR_MASS (4 * PI * PI)
#define DAYS_PER_YEAR 365.24
#define NBODIES 5

struct vec3 {
    double x, y, z;
};

struct planet {
    struct vec3 pos, vel;
    double mass;
};

static struct vec3 v_sub(struct vec3 a, struct vec3 b) {
    struct vec3 r = {a.x - b.x, a.y - b.y, a.z - b.z};
    return r;
}

static double v_dot(struct vec3 a, struct vec3 b) { return a.x * b.x + a.y * b.y + a.z * b.z; }

static struct vec3 v_axpy(double a, struct vec3 x, struct vec3 y) {
    struct vec3 r = {a * x.x + y.x, a * x.y + y.y, a * x.z + y.z};
    return r;
}

static double inv_dist3(struct vec3 d) {
    double d2 = v_dot(d, d);
    double dist = sqrt(d2);
    return 1.0 / (d2 * dist);
}

static void interact(struct planet *a, struct planet *b, double dt) {
    struct vec3 d = v_sub(a->pos, b->pos);
    double mag = dt * inv_dist3(d);
    a->vel = v_axpy(-b->mass * mag, d, a->vel);
    b->vel = v_axpy(a->mass * mag, d, b->vel);
}

void advance(int nbodies, struct planet *bodies, double dt) {
    for (int i = 0; i < nbodies; i++)
        for (int j = i + 1; j < nbodies; j++)
            interact(&bodies[i], &bodies[j], dt);
    for (int i = 0; i < nbodies; i++)
        bodies[i].pos = v_axpy(dt, bodies[i].vel, bodies[i].pos);
}

double energy(int nbodies, struct planet *bodies) {
    double e = 0.0;
    for (int i = 0; i < nbodies; i++) {
        struct planet *b = &bodies[i];
        e += 0.5 * b->mass * v_dot(b->vel, b->vel);
        for (int j = i + 1; j < nbodies; j++) {
            struct vec3 d = v_sub(b->pos, bodies[j].pos);
            e -= (b->mass * bodies[j].mass) / sqrt(v_dot(d, d));
        }
    }
    return e;
}

static void offset_momentum(int nbodies, struct planet *bodies) {
    struct vec3 p = {0, 0, 0};
    for (int i = 0; i < nbodies; i++)
        p = v_axpy(bodies[i].mass, bodies[i].vel, p);
    bodies[0].vel.x = -p.x / SOLAR_MASS;
    bodies[0].vel.y = -p.y / SOLAR_MASS;
    bodies[0].vel.z = -p.z / SOLAR_MASS;
}

static struct planet bodies[NBODIES] = {
    {{0, 0, 0}, {0, 0, 0}, SOLAR_MASS},
    {{4.84143144246472090e+00, -1.16032004402742839e+00, -1.03622044471123109e-01},
     {1.66007664274403694e-03 * DAYS_PER_YEAR, 7.69901118419740425e-03 * DAYS_PER_YEAR,
      -6.90460016972063023e-05 * DAYS_PER_YEAR},
     9.54791938424326609e-04 * SOLAR_MASS},
    {{8.34336671824457987e+00, 4.12479856412430479e+00, -4.03523417114321381e-01},
     {-2.76742510726862411e-03 * DAYS_PER_YEAR, 4.99852801234917238e-03 * DAYS_PER_YEAR,
      2.30417297573763929e-05 * DAYS_PER_YEAR},
     2.85885980666130812e-04 * SOLAR_MASS},
    {{1.28943695621391310e+01, -1.51111514016986312e+01, -2.23307578892655734e-01},
     {2.96460137564761618e-03 * DAYS_PER_YEAR, 2.37847173959480950e-03 * DAYS_PER_YEAR,
      -2.96589568540237556e-05 * DAYS_PER_YEAR},
     4.36624404335156298e-05 * SOLAR_MASS},
    {{1.53796971148509165e+01, -2.59193146099879641e+01, 1.79258772950371181e-01},
     {2.68067772490389322e-03 * DAYS_PER_YEAR, 1.62824170038242295e-03 * DAYS_PER_YEAR,
      -9.51592254519715870e-05 * DAYS_PER_YEAR},
     5.15138902046611451e-05 * SOLAR_MASS},
};

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 1000;
    offset_momentum(NBODIES, bodies);
    printf("steps %ld\n", n);
    printf("%.9f\n", energy(NBODIES, bodies));
    for (long i = 0; i < n; i++)
        advance(NBODIES, bodies, 0.01);
    printf("%.9f\n", energy(NBODIES, bodies));
    double sum = 0;
    for (int i = 0; i < NBODIES; i++)
        sum += bodies[i].pos.x + 2 * bodies[i].pos.y + 3 * bodies[i].pos.z;
    printf("checksum %.9f\n", sum);
    return 0;
}
