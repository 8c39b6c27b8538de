#pragma once
#include <string>
struct Shape {
    virtual ~Shape() {}
    virtual double area() const = 0;
    virtual std::string name() const = 0;
};
Shape *make_square(double s);
Shape *make_circle(double r);
void thrower(int x);
template <typename T> T twice(T x) { return x + x; }   // instantiated in several objects
int log_init(const char *who);                          // records static-init order
