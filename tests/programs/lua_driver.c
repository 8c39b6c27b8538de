/* End-to-end test program for `jitlink run`: a minimal Lua 5.4 host.
 *
 * Usage: lua_driver SCRIPT [ARG...]
 *
 * Creates a Lua state, opens the standard libraries, publishes the command
 * line as the global table `arg` (arg[0] = SCRIPT, arg[1..] = ARGs, arg[-1] =
 * the program name, as lua.c does), and runs SCRIPT.  On a Lua error the
 * message goes to stderr and the status is 1.  The script may end the
 * process itself with os.exit(N), which calls C exit(N).
 */
#include <stdio.h>
#include <stdlib.h>

#include "lua.h"
#include "lauxlib.h"
#include "lualib.h"

int main(int argc, char **argv) {
    int i;
    lua_State *L;

    printf("lua_driver: argc=%d\n", argc);
    for (i = 1; i < argc; i++)
        printf("lua_driver: argv[%d]=\"%s\"\n", i, argv[i]);
    fflush(stdout);

    if (argc < 2) {
        fprintf(stderr, "usage: %s SCRIPT [ARG...]\n", argc > 0 ? argv[0] : "lua_driver");
        return 64;
    }

    L = luaL_newstate();
    if (L == NULL) {
        fprintf(stderr, "lua_driver: cannot create Lua state\n");
        return 1;
    }
    luaL_openlibs(L);

    /* arg = { [-1] = argv[0], [0] = script, [1] = argv[2], ... } */
    lua_createtable(L, argc > 2 ? argc - 2 : 0, 2);
    for (i = 0; i < argc; i++) {
        lua_pushstring(L, argv[i]);
        lua_rawseti(L, -2, (lua_Integer)i - 1);
    }
    lua_setglobal(L, "arg");

    if (luaL_dofile(L, argv[1]) != LUA_OK) {
        const char *msg = lua_tostring(L, -1);
        fprintf(stderr, "lua_driver: %s\n", msg ? msg : "(error object is not a string)");
        lua_close(L);
        return 1;
    }

    lua_close(L);
    return 0;
}
