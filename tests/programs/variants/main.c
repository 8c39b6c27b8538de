/* Variant-matrix program: exercises what code models and PIC modes change
 * (jump tables, function-pointer tables, large arrays, constants, strings,
 * weak and common symbols, static locals, cross-file data) without reading
 * libc data objects (stdout/stderr), so non-PIC builds can be placed low. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern int util_sum(const int *v, int n);
extern const char *util_name(int i);
extern double util_poly(double x);
extern int (*util_ops[4])(int, int);
extern int big_table[40000];     /* > 64 KiB: .lbss/.ldata under -mcmodel=medium */
extern int shared_counter;
int weak_value(void) __attribute__((weak));
int weak_value(void) { return 1; }
int tentative;                   /* common with -fcommon */

static const char *classify(int x) {
    switch (x % 11) {            /* jump table */
    case 0: return "zero"; case 1: return "one"; case 2: return "two";
    case 3: return "three"; case 4: return "four"; case 5: return "five";
    case 6: return "six"; case 7: return "seven"; case 8: return "eight";
    case 9: return "nine"; default: return "ten";
    }
}

static int cmp_int(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

static int counter(void) { static int n; return ++n; }

int main(int argc, char **argv) {
    int local[64];
    for (int i = 0; i < 64; i++) local[i] = (i * 7919) % 101;
    qsort(local, 64, sizeof local[0], cmp_int);
    printf("sorted head %d %d %d tail %d\n", local[0], local[1], local[2], local[63]);
    for (int i = 0; i < 40000; i++) big_table[i] = i ^ (i >> 3);
    printf("sum %d big %d\n", util_sum(local, 64), util_sum(big_table, 40000));
    for (int i = 0; i < 12; i++) printf("%s%s", classify(i), i == 11 ? "\n" : ",");
    for (int i = 0; i < 4; i++) printf("op%d=%d ", i, util_ops[i](17, 5));
    printf("\n%s %s poly %.6f\n", util_name(0), util_name(2), util_poly(1.5));
    shared_counter += 5;
    tentative += 3;
    printf("counter %d %d %d shared %d tentative %d weak %d\n", counter(), counter(), counter(),
           shared_counter, tentative, weak_value());
    char buf[64];
    snprintf(buf, sizeof buf, "%s-%d", argc > 1 ? argv[1] : "none", argc);
    puts(buf);
    return (int)(strlen(buf) % 7) + 10;
}
