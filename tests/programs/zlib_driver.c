/* End-to-end test program for `jitlink run`: zlib round trips.
 *
 * Usage: zlib_driver [ARG...]
 *
 * Builds a deterministic 1 MiB buffer (repetitive text mixed with LCG
 * pseudo-random bytes), compresses it with compress2() at levels 1, 6 and 9
 * and with a streaming deflate()/inflate() loop through 4 KiB buffers,
 * checks every round trip byte for byte and prints sizes and checksums.
 * Exit status: 0 on success, 2 on a round-trip mismatch, 3 on a zlib error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zlib.h"

#define INPUT_SIZE (1u << 20)
#define CHUNK 4096

static unsigned char *input;

static void make_input(void) {
    static const char *const text[] = {
        "It was the best of times, it was the worst of times. ",
        "The quick brown fox jumps over the lazy dog. ",
        "Lorem ipsum dolor sit amet, consectetur adipiscing elit. ",
        "0123456789abcdef0123456789abcdef ",
    };
    unsigned int lcg = 0x12345678u;
    size_t pos = 0;
    unsigned block = 0;

    while (pos < INPUT_SIZE) {
        size_t len, i;
        lcg = lcg * 1664525u + 1013904223u;
        len = 64 + (lcg >> 20) % 1024;
        if (len > INPUT_SIZE - pos)
            len = INPUT_SIZE - pos;
        if (block % 3 == 2) {
            /* pseudo-random bytes, skewed so that they still compress a bit */
            for (i = 0; i < len; i++) {
                lcg = lcg * 1664525u + 1013904223u;
                input[pos + i] = (unsigned char)((lcg >> 24) & ((lcg >> 13) & 1 ? 0xff : 0x3f));
            }
        } else {
            const char *s = text[(lcg >> 8) % 4];
            size_t sl = strlen(s);
            for (i = 0; i < len; i++)
                input[pos + i] = (unsigned char)s[i % sl];
        }
        pos += len;
        block++;
    }
}

static int compare(const char *what, const unsigned char *out, size_t out_len) {
    size_t i;
    if (out_len != INPUT_SIZE) {
        fprintf(stderr, "zlib_driver: %s: length mismatch: %zu != %u\n", what, out_len, INPUT_SIZE);
        return 2;
    }
    for (i = 0; i < INPUT_SIZE; i++) {
        if (out[i] != input[i]) {
            fprintf(stderr, "zlib_driver: %s: byte %zu differs: %02x != %02x\n", what, i, out[i],
                    input[i]);
            return 2;
        }
    }
    return 0;
}

static int one_shot(int level) {
    uLongf clen = compressBound(INPUT_SIZE), dlen = INPUT_SIZE;
    unsigned char *comp = malloc(clen), *dec = malloc(INPUT_SIZE);
    int rc, status;
    char what[32];

    if (!comp || !dec)
        return 3;
    rc = compress2(comp, &clen, input, INPUT_SIZE, level);
    if (rc != Z_OK) {
        fprintf(stderr, "zlib_driver: compress2(level %d) = %d\n", level, rc);
        return 3;
    }
    rc = uncompress(dec, &dlen, comp, clen);
    if (rc != Z_OK) {
        fprintf(stderr, "zlib_driver: uncompress(level %d) = %d\n", level, rc);
        return 3;
    }
    snprintf(what, sizeof what, "compress2 level %d", level);
    status = compare(what, dec, dlen);
    printf("compress2 level %d: %u -> %lu bytes (bound %lu), crc32 %08lx, adler32 %08lx, "
           "round trip %s\n",
           level, INPUT_SIZE, (unsigned long)clen, (unsigned long)compressBound(INPUT_SIZE),
           crc32(0L, comp, (uInt)clen), adler32(1L, comp, (uInt)clen), status ? "FAILED" : "ok");
    free(comp);
    free(dec);
    return status;
}

/* deflate in CHUNK-sized pieces into CHUNK-sized output buffers, then inflate
 * the result again through CHUNK-sized buffers. */
static int streaming(int level, int strategy, int window_bits) {
    unsigned char inbuf[CHUNK], outbuf[CHUNK];
    unsigned char *comp = malloc(compressBound(INPUT_SIZE) + 1024), *dec = malloc(INPUT_SIZE);
    size_t clen = 0, dlen = 0, pos = 0;
    unsigned long calls = 0;
    z_stream zs;
    int rc, status;
    char what[64];

    if (!comp || !dec)
        return 3;
    memset(&zs, 0, sizeof zs);
    rc = deflateInit2(&zs, level, Z_DEFLATED, window_bits, 8, strategy);
    if (rc != Z_OK) {
        fprintf(stderr, "zlib_driver: deflateInit2 = %d\n", rc);
        return 3;
    }
    do {
        size_t n = INPUT_SIZE - pos < CHUNK ? INPUT_SIZE - pos : CHUNK;
        int flush = pos + n == INPUT_SIZE ? Z_FINISH : Z_NO_FLUSH;
        memcpy(inbuf, input + pos, n);
        pos += n;
        zs.next_in = inbuf;
        zs.avail_in = (uInt)n;
        do {
            zs.next_out = outbuf;
            zs.avail_out = CHUNK;
            rc = deflate(&zs, flush);
            calls++;
            if (rc == Z_STREAM_ERROR) {
                fprintf(stderr, "zlib_driver: deflate = %d\n", rc);
                return 3;
            }
            memcpy(comp + clen, outbuf, CHUNK - zs.avail_out);
            clen += CHUNK - zs.avail_out;
        } while (zs.avail_out == 0);
        if (flush == Z_FINISH && rc != Z_STREAM_END) {
            fprintf(stderr, "zlib_driver: deflate did not finish: %d\n", rc);
            return 3;
        }
    } while (pos < INPUT_SIZE);
    deflateEnd(&zs);

    memset(&zs, 0, sizeof zs);
    rc = inflateInit2(&zs, window_bits);
    if (rc != Z_OK) {
        fprintf(stderr, "zlib_driver: inflateInit2 = %d\n", rc);
        return 3;
    }
    pos = 0;
    rc = Z_OK;
    while (rc != Z_STREAM_END) {
        size_t n = clen - pos < CHUNK ? clen - pos : CHUNK;
        if (n == 0) {
            fprintf(stderr, "zlib_driver: inflate ran out of input\n");
            return 3;
        }
        memcpy(inbuf, comp + pos, n);
        pos += n;
        zs.next_in = inbuf;
        zs.avail_in = (uInt)n;
        do {
            zs.next_out = outbuf;
            zs.avail_out = CHUNK;
            rc = inflate(&zs, Z_NO_FLUSH);
            if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) {
                fprintf(stderr, "zlib_driver: inflate = %d (%s)\n", rc, zs.msg ? zs.msg : "");
                return 3;
            }
            if (dlen + (CHUNK - zs.avail_out) > INPUT_SIZE) {
                fprintf(stderr, "zlib_driver: inflate produced too much\n");
                return 2;
            }
            memcpy(dec + dlen, outbuf, CHUNK - zs.avail_out);
            dlen += CHUNK - zs.avail_out;
        } while (zs.avail_out == 0 && rc != Z_STREAM_END);
    }
    inflateEnd(&zs);

    snprintf(what, sizeof what, "stream level %d strategy %d wbits %d", level, strategy, window_bits);
    status = compare(what, dec, dlen);
    printf("stream level %d strategy %d wbits %d: %u -> %zu bytes in %lu deflate calls, "
           "crc32 %08lx, adler32 %08lx, round trip %s\n",
           level, strategy, window_bits, INPUT_SIZE, clen, calls,
           crc32(0L, comp, (uInt)clen), adler32(1L, comp, (uInt)clen), status ? "FAILED" : "ok");
    free(comp);
    free(dec);
    return status;
}

int main(int argc, char **argv) {
    int i, status = 0, s;

    printf("zlib_driver: argc=%d\n", argc);
    for (i = 1; i < argc; i++)
        printf("zlib_driver: argv[%d]=\"%s\"\n", i, argv[i]);
    printf("zlibVersion: %s (header %s), compile flags %08lx\n", zlibVersion(), ZLIB_VERSION,
           zlibCompileFlags());

    input = malloc(INPUT_SIZE);
    if (!input)
        return 3;
    make_input();
    printf("input: %u bytes, crc32 %08lx, adler32 %08lx\n", INPUT_SIZE,
           crc32(0L, input, INPUT_SIZE), adler32(1L, input, INPUT_SIZE));
    /* checksums combined from two halves must match the whole */
    printf("crc32_combine %08lx, adler32_combine %08lx\n",
           crc32_combine(crc32(0L, input, INPUT_SIZE / 2),
                         crc32(0L, input + INPUT_SIZE / 2, INPUT_SIZE / 2), INPUT_SIZE / 2),
           adler32_combine(adler32(1L, input, INPUT_SIZE / 2),
                           adler32(1L, input + INPUT_SIZE / 2, INPUT_SIZE / 2), INPUT_SIZE / 2));

    for (i = 0; i < 3; i++) {
        static const int levels[] = {1, 6, 9};
        s = one_shot(levels[i]);
        if (s == 3)
            return 3;
        if (s)
            status = s;
    }
    /* zlib format, raw deflate, gzip wrapper; several strategies */
    {
        static const int cfg[][3] = {
            {6, Z_DEFAULT_STRATEGY, 15},
            {1, Z_DEFAULT_STRATEGY, -15},
            {9, Z_FILTERED, 31},
            {6, Z_HUFFMAN_ONLY, 15},
            {6, Z_RLE, 12},
            {4, Z_FIXED, 9},
        };
        for (i = 0; i < (int)(sizeof cfg / sizeof cfg[0]); i++) {
            s = streaming(cfg[i][0], cfg[i][1], cfg[i][2]);
            if (s == 3)
                return 3;
            if (s)
                status = s;
        }
    }
    free(input);
    printf("zlib_driver: %s\n", status ? "MISMATCH" : "all round trips ok");
    return status;
}
