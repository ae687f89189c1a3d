/* The floor of scripts/bench-suite.sh: what a fan-out costs when a server does nothing but write
 * the same pre-framed bytes to every subscribed socket with libuv. No JSON, no auth, no history, no
 * limits; one loop, one process. Its CPU per delivery is the least any server on libuv can pay.
 *
 *   floor PORT          (0 picks a free port; prints "floor listening on 127.0.0.1:PORT")
 *
 * GET /sub/N with an RFC 6455 upgrade: answers 101 with the right Sec-WebSocket-Accept. The first
 * bytes the client sends after that count as a subscribe to channel N (the path's number) and are
 * answered with the text frame {"op":"subscribed"}; anything later is read and dropped.
 * POST /pub/N (Content-Length body): the body becomes one text frame, built once, and the same bytes
 * go to every subscriber of N: uv_try_write, then uv_write for whatever the socket did not take.
 * Consecutive POSTs to one channel in the same read are framed into one buffer and written together,
 * as a server that flushes once per loop turn would. Each POST is answered 200 with an empty body.
 * Build: gcc -O2 -o floor bench/floor.c $(pkg-config --cflags --libs libuv) */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define CHANNELS 65536

typedef struct conn {
    uv_tcp_t tcp;
    char *buf;                /* bytes not yet handled; freed once subscribed */
    size_t len, cap;
    int upgraded, subscribed;
    unsigned channel;
    struct conn *next, **pprev;  /* the channel's subscriber list */
} conn;

/* One framed batch shared by every write that still needs it. */
typedef struct { int refs; size_t len; char data[]; } shared;
typedef struct { uv_write_t req; shared *bytes; } write_req;

static shared *shared_new(size_t len) { shared *s = malloc(sizeof *s + len); s->refs = 1; s->len = len; return s; }
static shared *shared_copy(const char *data, size_t len) { shared *s = shared_new(len); memcpy(s->data, data, len); return s; }
static void release(shared *s) { if (--s->refs == 0) free(s); }

static conn *channels[CHANNELS];
static uv_loop_t *loop;

/* SHA-1 (FIPS 180-1), only for the handshake's accept key. */
static void sha1(const unsigned char *msg, size_t n, unsigned char out[20]) {
    uint32_t h[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
    size_t total = ((n + 8) / 64 + 1) * 64;
    unsigned char *m = calloc(total, 1);
    memcpy(m, msg, n);
    m[n] = 0x80;
    for (int i = 0; i < 8; i++) m[total - 1 - i] = (unsigned char)(((uint64_t)n * 8) >> (8 * i));
    for (size_t off = 0; off < total; off += 64) {
        uint32_t w[80], a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
        for (int i = 0; i < 16; i++)
            w[i] = (uint32_t)m[off + 4 * i] << 24 | m[off + 4 * i + 1] << 16 | m[off + 4 * i + 2] << 8 | m[off + 4 * i + 3];
        for (int i = 16; i < 80; i++) { uint32_t x = w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]; w[i] = x << 1 | x >> 31; }
        for (int i = 0; i < 80; i++) {
            uint32_t f, k;
            if (i < 20) { f = (b & c) | (~b & d); k = 0x5A827999; }
            else if (i < 40) { f = b ^ c ^ d; k = 0x6ED9EBA1; }
            else if (i < 60) { f = (b & c) | (b & d) | (c & d); k = 0x8F1BBCDC; }
            else { f = b ^ c ^ d; k = 0xCA62C1D6; }
            uint32_t t = (a << 5 | a >> 27) + f + e + k + w[i];
            e = d; d = c; c = b << 30 | b >> 2; b = a; a = t;
        }
        h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e;
    }
    free(m);
    for (int i = 0; i < 20; i++) out[i] = (unsigned char)(h[i / 4] >> (24 - 8 * (i % 4)));
}

static void base64(const unsigned char *in, size_t n, char *out) {
    static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? in[i + 1] << 8 : 0) | (i + 2 < n ? in[i + 2] : 0);
        *out++ = t[v >> 18 & 63];
        *out++ = t[v >> 12 & 63];
        *out++ = i + 1 < n ? t[v >> 6 & 63] : '=';
        *out++ = i + 2 < n ? t[v & 63] : '=';
    }
    *out = 0;
}

/* A server text frame header (unmasked) for a payload of n bytes; returns its length. */
static size_t frame_header(char *out, size_t n) {
    out[0] = (char)0x81;
    if (n < 126) { out[1] = (char)n; return 2; }
    if (n < 65536) { out[1] = 126; out[2] = (char)(n >> 8); out[3] = (char)n; return 4; }
    out[1] = 127;
    for (int i = 0; i < 8; i++) out[2 + i] = (char)((uint64_t)n >> (56 - 8 * i));
    return 10;
}

static void on_close(uv_handle_t *h) { free(((conn *)h->data)->buf); free(h->data); }

static void drop(conn *c) {
    if (c->pprev) { *c->pprev = c->next; if (c->next) c->next->pprev = c->pprev; c->pprev = NULL; }
    if (!uv_is_closing((uv_handle_t *)&c->tcp)) uv_close((uv_handle_t *)&c->tcp, on_close);
}

static void on_write(uv_write_t *req, int status) {
    (void)status;
    release(((write_req *)req)->bytes);
    free(req);
}

/* Writes bytes[0..len) to c: as much as the socket takes now, the rest queued (in order). */
static void send_shared(conn *c, shared *s) {
    uv_buf_t b = uv_buf_init(s->data, (unsigned)s->len);
    int n = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
    if (n == (int)s->len) return;
    if (n < 0 && n != UV_EAGAIN) { drop(c); return; }
    if (n > 0) { b.base += n; b.len -= n; }
    write_req *w = malloc(sizeof *w);
    w->bytes = s;
    s->refs++;
    if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_write) != 0) { s->refs--; free(w); drop(c); }
}


/* The batch of frames for one channel, written to its subscribers when the channel changes. */
static char *batch;
static size_t batch_len, batch_cap;
static unsigned batch_channel;

static void flush_batch(void) {
    if (batch_len == 0) return;
    shared *s = shared_copy(batch, batch_len);
    for (conn *c = channels[batch_channel], *next; c; c = next) { next = c->next; send_shared(c, s); }
    release(s);
    batch_len = 0;
}

static void add_frame(unsigned channel, const char *body, size_t n) {
    if (batch_len > 0 && channel != batch_channel) flush_batch();
    batch_channel = channel;
    if (batch_len + n + 10 > batch_cap) { batch_cap = (batch_len + n + 10) * 2; batch = realloc(batch, batch_cap); }
    batch_len += frame_header(batch + batch_len, n);
    memcpy(batch + batch_len, body, n);
    batch_len += n;
}

static unsigned path_channel(const char *line) {
    const char *slash = strchr(line, ' '), *end = slash ? strchr(slash + 1, ' ') : NULL;
    const char *last = end ? memrchr(slash, '/', end - slash) : NULL;
    return last ? (unsigned)(strtoul(last + 1, NULL, 10) % CHANNELS) : 0;
}

/* Handles every complete request in c->buf; returns 0 when c was dropped. */
static int handle_requests(conn *c) {
    static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    size_t at = 0, answers = 0;
    while (!c->upgraded) {
        char *head = c->buf + at, *end = strstr(head, "\r\n\r\n");
        if (!end) break;
        *end = 0;  /* header searches stop at the head */
        size_t head_len = (size_t)(end - head) + 4;
        char *key = strcasestr(head, "\r\nSec-WebSocket-Key:"), *length = strcasestr(head, "\r\nContent-Length:");
        if (strncmp(head, "GET ", 4) == 0 && key) {
            unsigned char digest[20];
            char accept_in[128], accept[32], reply[256];
            key += 20;
            while (*key == ' ') key++;
            size_t key_len = strcspn(key, "\r ");
            if (key_len > 64) { drop(c); return 0; }
            snprintf(accept_in, sizeof accept_in, "%.*s258EAFA5-E914-47DA-95CA-C5AB0DC85B11", (int)key_len, key);
            sha1((unsigned char *)accept_in, strlen(accept_in), digest);
            base64(digest, 20, accept);
            int n = snprintf(reply, sizeof reply, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                             "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n", accept);
            shared *s = shared_copy(reply, (size_t)n);
            send_shared(c, s);
            release(s);
            c->upgraded = 1;
            c->channel = path_channel(head);
            at += head_len;
        } else if (strncmp(head, "POST ", 5) == 0) {
            size_t body = length ? strtoul(length + 17, NULL, 10) : 0;
            if (c->len - at - head_len < body) { *end = '\r'; break; }
            add_frame(path_channel(head), head + head_len, body);
            answers++;
            at += head_len + body;
        } else {
            drop(c);
            return 0;
        }
    }
    flush_batch();
    if (answers > 0) {
        shared *s = shared_new(answers * (sizeof ok - 1));
        for (size_t i = 0; i < answers; i++) memcpy(s->data + i * (sizeof ok - 1), ok, sizeof ok - 1);
        send_shared(c, s);
        release(s);
    }
    memmove(c->buf, c->buf + at, c->len - at + 1);
    c->len -= at;
    return 1;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b) {
    static char space[65536];
    (void)h; (void)suggested;
    *b = uv_buf_init(space, sizeof space);
}

static void on_read(uv_stream_t *stream, ssize_t n, const uv_buf_t *b) {
    conn *c = stream->data;
    if (n < 0) { drop(c); return; }
    if (n == 0 || c->subscribed) return;
    if (c->upgraded) {
        /* The first message after the upgrade subscribes; the frame itself is not parsed. */
        static const char reply[] = "\x81\x13{\"op\":\"subscribed\"}";
        c->subscribed = 1;
        free(c->buf);
        c->buf = NULL;
        c->next = channels[c->channel];
        if (c->next) c->next->pprev = &c->next;
        channels[c->channel] = c;
        c->pprev = &channels[c->channel];
        shared *s = shared_copy(reply, sizeof reply - 1);
        send_shared(c, s);
        release(s);
        return;
    }
    if (c->len + (size_t)n + 1 > c->cap) { c->cap = (c->len + n + 1) * 2; c->buf = realloc(c->buf, c->cap); }
    memcpy(c->buf + c->len, b->base, (size_t)n);
    c->len += (size_t)n;
    c->buf[c->len] = 0;
    handle_requests(c);
}

static void on_connection(uv_stream_t *server, int status) {
    if (status < 0) return;
    conn *c = calloc(1, sizeof *c);
    uv_tcp_init(loop, &c->tcp);
    c->tcp.data = c;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) { uv_close((uv_handle_t *)&c->tcp, on_close); return; }
    uv_tcp_nodelay(&c->tcp, 1);
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

int main(int argc, char **argv) {
    uv_tcp_t server;
    struct sockaddr_in addr;
    int namelen = sizeof addr;
    loop = uv_default_loop();
    uv_tcp_init(loop, &server);
    uv_ip4_addr("127.0.0.1", argc > 1 ? atoi(argv[1]) : 0, &addr);
    int rc = uv_tcp_bind(&server, (struct sockaddr *)&addr, 0);
    if (rc == 0) rc = uv_listen((uv_stream_t *)&server, 4096, on_connection);
    if (rc != 0) { fprintf(stderr, "floor: %s\n", uv_strerror(rc)); return 1; }
    uv_tcp_getsockname(&server, (struct sockaddr *)&addr, &namelen);
    printf("floor listening on 127.0.0.1:%d\n", ntohs(addr.sin_port));
    fflush(stdout);
    return uv_run(loop, UV_RUN_DEFAULT);
}
