/* End-to-end test program for `jitlink run`: SQLite (amalgamation) in memory.
 *
 * Usage: sqlite_driver [ARG...]
 *
 * Builds a 100000-row table in an in-memory database with a prepared
 * statement inside one transaction, indexes it and prints the results of a
 * series of queries.  Every result row goes to stdout, so the output is a
 * fingerprint of the whole run.  Exit status: 0 on success; on the first
 * failing sqlite call, sqlite3_errmsg() goes to stderr and the status is a
 * distinct nonzero number naming the step (10 + step).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sqlite3.h"

static sqlite3 *db;
static int step_no;

static int fail(const char *what) {
    fprintf(stderr, "sqlite_driver: step %d (%s) failed: %s\n", step_no, what,
            db ? sqlite3_errmsg(db) : "(no database)");
    return 10 + step_no;
}

/* Runs SQL, printing every result row as `label| col1 | col2 ...`. */
static int query(const char *label, const char *sql) {
    sqlite3_stmt *st = NULL;
    int rc, rows = 0;

    step_no++;
    rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK)
        return fail(label);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int i, n = sqlite3_column_count(st);
        printf("%s|", label);
        for (i = 0; i < n; i++) {
            switch (sqlite3_column_type(st, i)) {
            case SQLITE_INTEGER:
                printf(" %lld", (long long)sqlite3_column_int64(st, i));
                break;
            case SQLITE_FLOAT:
                printf(" %.6f", sqlite3_column_double(st, i));
                break;
            case SQLITE_NULL:
                printf(" NULL");
                break;
            default:
                printf(" %s", (const char *)sqlite3_column_text(st, i));
                break;
            }
            printf(i + 1 < n ? " |" : "");
        }
        printf("\n");
        rows++;
    }
    if (rc != SQLITE_DONE) {
        sqlite3_finalize(st);
        return fail(label);
    }
    sqlite3_finalize(st);
    printf("%s: %d row(s)\n", label, rows);
    return 0;
}

static int exec(const char *label, const char *sql) {
    char *err = NULL;
    step_no++;
    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
        fprintf(stderr, "sqlite_driver: step %d (%s) failed: %s\n", step_no, label,
                err ? err : "?");
        sqlite3_free(err);
        return 10 + step_no;
    }
    return 0;
}

#define CHECK(x)            \
    do {                    \
        int rc_ = (x);      \
        if (rc_ != 0)       \
            return rc_;     \
    } while (0)

int main(int argc, char **argv) {
    static const char *const syllables[] = {"ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo",
                                            "ze", "qu", "ba", "do"};
    sqlite3_stmt *ins = NULL;
    unsigned int lcg = 2463534242u;
    int i, rc;

    printf("sqlite_driver: argc=%d\n", argc);
    for (i = 1; i < argc; i++)
        printf("sqlite_driver: argv[%d]=\"%s\"\n", i, argv[i]);
    printf("sqlite version: %s (%d)\n", sqlite3_libversion(), sqlite3_libversion_number());
    printf("threadsafe: %d\n", sqlite3_threadsafe());

    step_no = 1;
    if (sqlite3_open(":memory:", &db) != SQLITE_OK)
        return fail("open");

    CHECK(exec("create",
               "CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, grp INTEGER, val REAL);"));
    CHECK(exec("begin", "BEGIN"));

    step_no++;
    if (sqlite3_prepare_v2(db, "INSERT INTO t(id, name, grp, val) VALUES(?1, ?2, ?3, ?4)", -1,
                           &ins, NULL) != SQLITE_OK)
        return fail("prepare insert");
    for (i = 1; i <= 100000; i++) {
        char name[32];
        unsigned int r1, r2;
        lcg = lcg * 1103515245u + 12345u;
        r1 = lcg >> 8;
        lcg = lcg * 1103515245u + 12345u;
        r2 = lcg >> 8;
        snprintf(name, sizeof name, "%s%s%s-%u", syllables[r1 % 12], syllables[(r1 / 12) % 12],
                 syllables[r2 % 12], (unsigned)(i % 997));
        sqlite3_bind_int(ins, 1, i);
        sqlite3_bind_text(ins, 2, name, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int(ins, 3, (int)(r1 % 100));
        sqlite3_bind_double(ins, 4, (double)(r2 % 1000000) / 1000.0 - 250.0);
        rc = sqlite3_step(ins);
        if (rc != SQLITE_DONE) {
            sqlite3_finalize(ins);
            return fail("insert");
        }
        sqlite3_reset(ins);
    }
    sqlite3_finalize(ins);
    CHECK(exec("commit", "COMMIT"));
    CHECK(exec("index", "CREATE INDEX t_grp ON t(grp); ANALYZE;"));

    CHECK(query("count", "SELECT COUNT(*), COUNT(DISTINCT grp), COUNT(DISTINCT name) FROM t"));
    CHECK(query("sum", "SELECT SUM(grp), printf('%.6f', SUM(val)), printf('%.6f', AVG(val)) FROM t"));
    CHECK(query("minmax", "SELECT MIN(val), MAX(val), MIN(name), MAX(name), MIN(grp), MAX(grp) FROM t"));
    CHECK(query("groups", "SELECT grp, COUNT(*), printf('%.6f', AVG(val)), MIN(id), MAX(id) "
                          "FROM t GROUP BY grp ORDER BY grp LIMIT 10"));
    CHECK(query("top", "SELECT grp, COUNT(*) AS n FROM t GROUP BY grp ORDER BY n DESC, grp LIMIT 5"));
    CHECK(query("lookup", "SELECT COUNT(*), printf('%.6f', SUM(val)), MIN(id), MAX(id) FROM t WHERE grp = 42"));
    CHECK(query("lookup-rows", "SELECT id, name, val FROM t WHERE grp = 42 ORDER BY id LIMIT 5"));
    CHECK(query("plan", "EXPLAIN QUERY PLAN SELECT * FROM t WHERE grp = 42"));
    CHECK(query("like", "SELECT COUNT(*) FROM t WHERE name LIKE 'kalo%'"));
    CHECK(query("like-rows", "SELECT id, name FROM t WHERE name LIKE '%zeze%-1_' ORDER BY id LIMIT 5"));
    CHECK(query("glob", "SELECT COUNT(*) FROM t WHERE name GLOB 'ba*-99'"));
    CHECK(query("subquery", "SELECT COUNT(*) FROM t WHERE val > (SELECT AVG(val) FROM t)"));
    CHECK(query("join", "SELECT a.id, b.id, a.grp, printf('%.3f', a.val + b.val) FROM t a "
                        "JOIN t b ON b.id = a.id + 1 AND b.grp = a.grp ORDER BY a.id LIMIT 5"));
    CHECK(query("join-count", "SELECT COUNT(*) FROM t a JOIN t b ON b.id = a.id + 1 AND b.grp = a.grp"));
    CHECK(query("printf", "SELECT printf('%05d|%-8s|%8.3f|%x|%e', id, name, val, id, val) FROM t "
                          "WHERE id IN (1, 2, 3, 50000, 100000) ORDER BY id"));
    CHECK(query("strings", "SELECT upper(name), substr(name, 2, 4), length(name), "
                           "replace(name, 'a', '@'), instr(name, '-'), trim('  x  ') || '|', "
                           "hex(substr(name, 1, 3)) FROM t WHERE id <= 3 ORDER BY id"));
    CHECK(query("math", "SELECT 7 / 2, 7 % 3, -7 / 2, -7 % 3, 7.0 / 2, abs(-5), round(2.675, 2), "
                        "CAST('12abc' AS INTEGER), typeof(1), typeof(1.0), typeof('x'), typeof(NULL), "
                        "9223372036854775807 + 0, max(1, 5, 3), coalesce(NULL, 'c')"));
    CHECK(query("case", "SELECT CASE WHEN val < 0 THEN 'neg' WHEN val < 500 THEN 'mid' ELSE 'high' END AS k, "
                        "COUNT(*) FROM t GROUP BY k ORDER BY k"));
    CHECK(query("window", "SELECT id, grp, SUM(grp) OVER (ORDER BY id ROWS BETWEEN 2 PRECEDING AND CURRENT ROW), "
                          "row_number() OVER (PARTITION BY grp ORDER BY id) FROM t WHERE id <= 6 ORDER BY id"));
    CHECK(query("cte", "WITH RECURSIVE fib(n, a, b) AS (SELECT 1, 0, 1 UNION ALL "
                       "SELECT n + 1, b, a + b FROM fib WHERE n < 60) SELECT n, a FROM fib WHERE n % 15 = 0"));
    CHECK(exec("update", "UPDATE t SET val = val * 2 WHERE grp = 7; DELETE FROM t WHERE grp = 8;"));
    CHECK(query("after-update", "SELECT COUNT(*), printf('%.6f', SUM(val)) FROM t"));
    CHECK(query("changes", "SELECT total_changes()"));
    CHECK(query("hash", "SELECT SUM((id * 31 + length(name) * 7 + grp) % 1000003) FROM t"));

    step_no++;
    if (sqlite3_close(db) != SQLITE_OK)
        return fail("close");
    db = NULL;
    printf("sqlite_driver: done\n");
    return 0;
}
