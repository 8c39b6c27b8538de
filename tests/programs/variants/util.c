int big_table[40000];
int shared_counter = 37;
int tentative;
static const double coeff[] = {1.25, -0.5, 3.0, 0.125};
static const char *names[] = {"alpha", "beta", "gamma"};

int util_sum(const int *v, int n) {
    int s = 0;
    for (int i = 0; i < n; i++) s += v[i];
    return s;
}
const char *util_name(int i) { return names[i % 3]; }
double util_poly(double x) {
    double r = 0;
    for (int i = 3; i >= 0; i--) r = r * x + coeff[i];
    return r;
}
static int add(int a, int b) { return a + b; }
static int sub(int a, int b) { return a - b; }
static int mul(int a, int b) { return a * b; }
static int mod(int a, int b) { return a % b; }
int (*util_ops[4])(int, int) = {add, sub, mul, mod};
