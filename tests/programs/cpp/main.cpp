// C++ end-to-end program: exceptions across objects and through a C frame,
// virtual calls across objects, templates instantiated in several objects,
// std containers and algorithms, static constructors in several objects,
// a function-local static, and thread_local with std::thread.
#include "shapes.h"
#include <algorithm>
#include <cstdio>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

static std::vector<std::string> *init_order;
int log_init(const char *who) {
    if (!init_order) init_order = new std::vector<std::string>;
    init_order->push_back(who);
    return (int)init_order->size();
}
static int main_init = log_init("main.cpp");
static struct Fini { ~Fini() { std::printf("static destructor in main.cpp\n"); } } fini;

int counter() { static int n = 100; return ++n; }       // function-local static

thread_local int tl_value = 7;
thread_local std::string tl_name = "unset";
std::mutex out_mutex;

int main(int argc, char **argv) {
    std::printf("init order:");
    for (auto &s : *init_order) std::printf(" %s", s.c_str());
    std::printf(" (main_init=%d, argc=%d)\n", main_init, argc);
    std::vector<Shape *> v{make_square(2), make_circle(1)};
    for (auto *s : v) std::printf("%s %.3f\n", s->name().c_str(), s->area());
    for (int x : {3, -1, 5}) {
        try {
            thrower(x);
        } catch (const std::runtime_error &e) {
            std::printf("caught runtime_error: %s\n", e.what());
        } catch (int e) {
            std::printf("caught int %d\n", e);
        }
    }
    std::map<std::string, int> m{{"pear", 3}, {"apple", 1}, {"fig", 2}};
    for (auto &kv : m) std::printf("%s=%d ", kv.first.c_str(), kv.second);
    std::vector<int> xs{5, 3, 9, 1, 7};
    std::sort(xs.begin(), xs.end(), [](int a, int b) { return a > b; });
    std::printf("\nsorted %d %d %d, twice %d %s\n", xs[0], xs[1], xs[4], twice(21), twice(std::string("ab")).c_str());
    std::printf("counter %d %d\n", counter(), counter());
    std::vector<std::thread> ts;
    std::vector<int> seen(4);
    for (int t = 0; t < 4; t++)
        ts.emplace_back([t, &seen] {
            tl_value += t * 10;
            tl_name = "thread" + std::to_string(t);
            for (int i = 0; i < 1000; i++) tl_value += 1;
            seen[t] = tl_value;
            std::lock_guard<std::mutex> g(out_mutex);
            (void)g;
        });
    for (auto &t : ts) t.join();
    for (int t = 0; t < 4; t++) std::printf("thread %d saw %d\n", t, seen[t]);
    std::printf("main thread: %d %s\n", tl_value, tl_name.c_str());
    for (auto *s : v) delete s;
    return 0;
}
