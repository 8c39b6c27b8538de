#include "shapes.h"
#include <cstdio>
struct Square : Shape {
    double s;
    explicit Square(double s) : s(s) {}
    double area() const override { return s * s; }
    std::string name() const override { return "square" + std::to_string(twice(1)); }
};
struct Circle : Shape {
    double r;
    explicit Circle(double r) : r(r) {}
    double area() const override { return 3.14159 * r * r; }
    std::string name() const override { return "circle" + std::to_string(twice(2)); }
};
Shape *make_square(double s) { return new Square(s); }
Shape *make_circle(double r) { return new Circle(r); }
static int shapes_init = log_init("shapes.cpp");
