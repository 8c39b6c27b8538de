#include <stdio.h>
__attribute__((constructor(150))) static void c150(void) { printf("ctor 150 (order2)\n"); }
__attribute__((constructor)) static void cdef(void) { printf("ctor default (order2)\n"); }
__attribute__((destructor)) static void ddef(void) { printf("dtor default (order2)\n"); }
void order2_hello(void) { printf("order2 hello\n"); }
/* Legacy .ctors/.dtors entries (what old compilers and hand-written
 * assembly emit); ld folds them into .init_array/.fini_array. */
static void legacy_ctor(void) { printf("legacy .ctors entry\n"); }
static void legacy_dtor(void) { printf("legacy .dtors entry\n"); }
__attribute__((section(".ctors"), used)) static void (*legacy_ctor_ptr)(void) = legacy_ctor;
__attribute__((section(".dtors"), used)) static void (*legacy_dtor_ptr)(void) = legacy_dtor;
