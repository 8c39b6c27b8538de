/* A C frame between the thrower and the catcher (compiled with -fexceptions). */
void c_frame(void (*f)(int), int x) { f(x); }
