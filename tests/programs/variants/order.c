/* Initialiser and finaliser order: priorities, .preinit_array, plain
 * constructors, destructors and atexit, compared with the native build. */
#include <stdio.h>
#include <stdlib.h>

static void say(const char *s) { printf("%s\n", s); }
static void pre(void) { say("preinit"); }
__attribute__((section(".preinit_array"), used)) static void (*pre_ptr)(void) = pre;
__attribute__((constructor(101))) static void c101(void) { say("ctor 101"); }
__attribute__((constructor(300))) static void c300(void) { say("ctor 300"); }
__attribute__((constructor(200))) static void c200(void) { say("ctor 200"); }
__attribute__((constructor)) static void cdef1(void) { say("ctor default 1"); }
__attribute__((constructor)) static void cdef2(void) { say("ctor default 2"); }
__attribute__((destructor(101))) static void d101(void) { say("dtor 101"); }
__attribute__((destructor(200))) static void d200(void) { say("dtor 200"); }
__attribute__((destructor)) static void ddef(void) { say("dtor default"); }
static void at1(void) { say("atexit 1"); }
static void at2(void) { say("atexit 2"); }
extern void order2_hello(void);
int main(void) {
    atexit(at1);
    atexit(at2);
    order2_hello();
    say("main");
    return 0;
}
