#include "shapes.h"
#include <stdexcept>
extern "C" void c_frame(void (*f)(int), int x);
static void inner(int x) {
    if (x < 0) throw x;
    throw std::runtime_error("boom " + std::to_string(twice(x)));
}
void thrower(int x) { c_frame(inner, x); }
static int thrower_init = log_init("thrower.cpp");
