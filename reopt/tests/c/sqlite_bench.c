/* SQLite workload of adjustable length for the jitlink-reopt benchmark.
 *
 * Usage: sqlite_bench ROWS ROUNDS
 * Inserts ROWS rows into an in-memory table (one transaction, prepared
 * statement), indexes it, then runs a fixed set of queries ROUNDS times
 * (aggregates, an indexed lookup, LIKE scans, a self-join, sorting) and
 * prints a checksum of every result. */
#include <stdio.h>
#include <stdlib.h>

#include "sqlite3.h"

static sqlite3 *db;

static long long run(const char *sql) {
    sqlite3_stmt *st;
    long long sum = 0;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        fprintf(stderr, "prepare: %s\n", sqlite3_errmsg(db));
        exit(2);
    }
    while (sqlite3_step(st) == SQLITE_ROW)
        for (int i = 0; i < sqlite3_column_count(st); i++)
            sum = sum * 31 + sqlite3_column_int64(st, i) + (long long)(sqlite3_column_double(st, i) * 8);
    sqlite3_finalize(st);
    return sum;
}

int main(int argc, char **argv) {
    int rows = argc > 1 ? atoi(argv[1]) : 20000;
    int rounds = argc > 2 ? atoi(argv[2]) : 1;
    static const char *const syl[] = {"ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo"};
    unsigned lcg = 12345;
    sqlite3_stmt *ins;
    if (sqlite3_open(":memory:", &db) != SQLITE_OK)
        return 1;
    sqlite3_exec(db, "CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, grp INTEGER, val REAL); BEGIN", 0, 0, 0);
    sqlite3_prepare_v2(db, "INSERT INTO t VALUES(?1, ?2, ?3, ?4)", -1, &ins, NULL);
    for (int i = 1; i <= rows; i++) {
        char name[32];
        lcg = lcg * 1103515245u + 12345u;
        unsigned r = lcg >> 8;
        snprintf(name, sizeof name, "%s%s%s-%u", syl[r % 8], syl[(r / 8) % 8], syl[(r / 64) % 8], r % 1000);
        sqlite3_bind_int(ins, 1, i);
        sqlite3_bind_text(ins, 2, name, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int(ins, 3, (int)(r % 97));
        sqlite3_bind_double(ins, 4, (double)(r % 100000) / 100.0);
        if (sqlite3_step(ins) != SQLITE_DONE)
            return 3;
        sqlite3_reset(ins);
    }
    sqlite3_finalize(ins);
    sqlite3_exec(db, "COMMIT; CREATE INDEX t_grp ON t(grp)", 0, 0, 0);
    long long check = 0;
    for (int k = 0; k < rounds; k++) {
        check = check * 7 + run("SELECT grp, COUNT(*), SUM(val), MIN(name) FROM t GROUP BY grp");
        check = check * 7 + run("SELECT COUNT(*), SUM(val) FROM t WHERE grp = 42");
        check = check * 7 + run("SELECT COUNT(*) FROM t WHERE name LIKE '%mi%-1_'");
        check = check * 7 + run("SELECT id, val FROM t ORDER BY val DESC, id LIMIT 20");
        check = check * 7 + run("SELECT COUNT(*) FROM t a JOIN t b ON b.id = a.id + 1 AND b.grp = a.grp");
        check = check * 7 + run("SELECT SUM(length(upper(name)) + instr(name, '-')) FROM t");
    }
    printf("rows %d rounds %d checksum %lld\n", rows, rounds, check);
    sqlite3_close(db);
    return 0;
}
