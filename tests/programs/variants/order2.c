#include <stdio.h>
__attribute__((constructor(150))) static void c150(void) { printf("ctor 150 (order2)\n"); }
__attribute__((constructor)) static void cdef(void) { printf("ctor default (order2)\n"); }
__attribute__((destructor)) static void ddef(void) { printf("dtor default (order2)\n"); }
void order2_hello(void) { printf("order2 hello\n"); }
