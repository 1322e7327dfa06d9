// A closed-loop HTTP/1.1 load generator for bounded lists of distinct requests: C connections,
// each sending the next request of the list as soon as its previous one is answered, until
// the list is done. One thread, epoll, keep-alive.
//
// Why not the aiohttp client: at a few hundred microseconds of server work per request, a
// Python client's own CPU (about 0.2 ms per request here) is a tenth of the machine it shares
// with the server. Why not wrk: it runs for a fixed time, cycles through its requests and
// cannot tell which answer belongs to which request. This one records every answer (status,
// latency, body) by request, so the caller checks each one.
//
//   loadgen HOST PORT CONCURRENCY REQUESTS RESULTS TIMEOUT_SECONDS
//
// REQUESTS: for each request, a line "METHOD PATH BODY_LENGTH CONTENT_TYPE" ("-" for none)
// followed by BODY_LENGTH bytes. RESULTS: for each request in order, a line
// "STATUS LATENCY_NS BODY_LENGTH" followed by the body (STATUS 0: no answer; the body is then
// the reason). Standard output: "wall_ns N". Exit status 0 unless the arguments or files were
// unusable (failed requests are results, not errors).

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct request {
    char *wire; // the whole request as sent
    size_t wire_length;
};

struct result {
    int status;
    uint64_t latency_ns;
    char *body;
    size_t body_length;
};

struct connection {
    int fd;
    long current; // request index, -1 when idle
    size_t sent;
    uint64_t started_ns;
    char *in;
    size_t in_length, in_capacity;
};

static struct request *requests;
static struct result *results;
static long request_count, next_request, answered;
static struct sockaddr_in server;
static int epoll_fd;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *what)
{
    perror(what);
    exit(2);
}

static char *read_file(const char *path, size_t *length)
{
    FILE *file = fopen(path, "rb");
    if (file == NULL) die(path);
    size_t capacity = 1 << 20, used = 0;
    char *data = malloc(capacity);
    size_t got;
    while ((got = fread(data + used, 1, capacity - used, file)) > 0) {
        used += got;
        if (used == capacity) data = realloc(data, capacity *= 2);
    }
    fclose(file);
    *length = used;
    return data;
}

static void parse_requests(const char *path, const char *host_header)
{
    size_t length;
    char *data = read_file(path, &length);
    size_t capacity = 1024;
    requests = malloc(capacity * sizeof *requests);
    size_t at = 0;
    while (at < length) {
        char *line_end = memchr(data + at, '\n', length - at);
        if (line_end == NULL) break;
        *line_end = 0;
        char method[16], target[4096], type[256];
        size_t body_length;
        if (sscanf(data + at, "%15s %4095s %zu %255s", method, target, &body_length, type) != 4) {
            fprintf(stderr, "loadgen: bad request line: %s\n", data + at);
            exit(2);
        }
        const char *body = line_end + 1;
        if ((size_t)(body + body_length - data) > length) {
            fprintf(stderr, "loadgen: request body past the end of %s\n", path);
            exit(2);
        }
        char head[8192];
        int head_length;
        if (strcmp(type, "-") == 0) {
            head_length = snprintf(head, sizeof head, "%s %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %zu\r\n\r\n",
                                   method, target, host_header, body_length);
        } else {
            head_length = snprintf(head, sizeof head,
                                   "%s %s HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n\r\n",
                                   method, target, host_header, type, body_length);
        }
        if ((size_t)request_count == capacity) requests = realloc(requests, (capacity *= 2) * sizeof *requests);
        struct request *request = &requests[request_count++];
        request->wire_length = (size_t)head_length + body_length;
        request->wire = malloc(request->wire_length);
        memcpy(request->wire, head, (size_t)head_length);
        memcpy(request->wire + head_length, body, body_length);
        at = (size_t)(body + body_length - data);
    }
    free(data);
}

static void finish(struct connection *c, int status, const char *body, size_t body_length)
{
    struct result *r = &results[c->current];
    r->status = status;
    r->latency_ns = now_ns() - c->started_ns;
    r->body = malloc(body_length + 1);
    memcpy(r->body, body, body_length);
    r->body_length = body_length;
    c->current = -1;
    answered++;
}

static void open_connection(struct connection *c)
{
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) die("socket");
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(c->fd, (struct sockaddr *)&server, sizeof server) < 0 && errno != EINPROGRESS) die("connect");
    struct epoll_event event = { .events = EPOLLIN | EPOLLOUT | EPOLLET, .data.ptr = c };
    if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, c->fd, &event) < 0) die("epoll_ctl");
    c->in_length = 0;
}

static void reconnect(struct connection *c)
{
    close(c->fd);
    open_connection(c);
}

/// Sends as much of the current request as the socket takes.
static int send_some(struct connection *c)
{
    struct request *request = &requests[c->current];
    while (c->sent < request->wire_length) {
        ssize_t n = send(c->fd, request->wire + c->sent, request->wire_length - c->sent, MSG_NOSIGNAL);
        if (n < 0) return errno == EAGAIN ? 0 : -1;
        c->sent += (size_t)n;
    }
    return 0;
}

static void start_next(struct connection *c)
{
    if (next_request >= request_count) return;
    c->current = next_request++;
    c->sent = 0;
    c->started_ns = now_ns();
    if (send_some(c) < 0) {
        const char *reason = "send failed";
        finish(c, 0, reason, strlen(reason));
        reconnect(c);
    }
}

/// The header's value for `name` (case-insensitive) in the head [head, end), or NULL.
static const char *header(const char *head, const char *end, const char *name, size_t *value_length)
{
    size_t name_length = strlen(name);
    const char *line = memchr(head, '\n', (size_t)(end - head));
    while (line != NULL && line + 1 < end) {
        line++;
        const char *line_end = memchr(line, '\n', (size_t)(end - line));
        if (line_end == NULL) line_end = end;
        if ((size_t)(line_end - line) > name_length + 1 && strncasecmp(line, name, name_length) == 0 &&
            line[name_length] == ':') {
            const char *value = line + name_length + 1;
            while (value < line_end && (*value == ' ' || *value == '\t')) value++;
            const char *value_end = line_end;
            while (value_end > value && (value_end[-1] == '\r' || value_end[-1] == ' ')) value_end--;
            *value_length = (size_t)(value_end - value);
            return value;
        }
        line = line_end < end ? line_end : NULL;
    }
    return NULL;
}

/// Decodes a chunked body in place; returns its length, or -1 while incomplete.
static long dechunk(char *body, size_t available, size_t *consumed)
{
    size_t in = 0, out = 0;
    for (;;) {
        char *line_end = memmem(body + in, available - in, "\r\n", 2);
        if (line_end == NULL) return -1;
        size_t size = strtoul(body + in, NULL, 16);
        size_t data = (size_t)(line_end - body) + 2;
        if (size == 0) {
            // No trailers are expected: the last chunk is followed by an empty line.
            if (available < data + 2) return -1;
            *consumed = data + 2;
            return (long)out;
        }
        if (available < data + size + 2) return -1;
        memmove(body + out, body + data, size);
        out += size;
        in = data + size + 2;
    }
}

/// Parses a complete response out of the connection's input, if there is one. Returns 1 when
/// one was taken (and whether the server will close), 0 when more input is needed.
static int take_response(struct connection *c, int *closing)
{
    char *end_of_head = memmem(c->in, c->in_length, "\r\n\r\n", 4);
    if (end_of_head == NULL) return 0;
    size_t head_length = (size_t)(end_of_head - c->in) + 4;
    int minor = 1, status = 0;
    if (sscanf(c->in, "HTTP/1.%d %d", &minor, &status) != 2) status = 0;
    size_t length;
    const char *value = header(c->in, end_of_head, "Connection", &length);
    // HTTP/1.0 closes unless it says keep-alive; HTTP/1.1 keeps the connection unless it says close.
    if (minor == 0) *closing = !(value != NULL && length == 10 && strncasecmp(value, "keep-alive", 10) == 0);
    else *closing = value != NULL && length == 5 && strncasecmp(value, "close", 5) == 0;
    value = header(c->in, end_of_head, "Transfer-Encoding", &length);
    if (value != NULL && length >= 7 && strncasecmp(value, "chunked", 7) == 0) {
        // A copy, so that an incomplete body can be decoded again when more arrives.
        size_t available = c->in_length - head_length;
        char *copy = malloc(available + 1);
        memcpy(copy, c->in + head_length, available);
        size_t consumed;
        long body_length = dechunk(copy, available, &consumed);
        if (body_length < 0) {
            free(copy);
            return 0;
        }
        finish(c, status, copy, (size_t)body_length);
        free(copy);
        memmove(c->in, c->in + head_length + consumed, c->in_length - head_length - consumed);
        c->in_length -= head_length + consumed;
        return 1;
    }
    size_t body_length = 0;
    value = header(c->in, end_of_head, "Content-Length", &length);
    if (value != NULL) body_length = strtoul(value, NULL, 10);
    if (c->in_length < head_length + body_length) return 0;
    finish(c, status, c->in + head_length, body_length);
    memmove(c->in, c->in + head_length + body_length, c->in_length - head_length - body_length);
    c->in_length -= head_length + body_length;
    return 1;
}

static void readable(struct connection *c)
{
    for (;;) {
        if (c->in_capacity - c->in_length < 65536) c->in = realloc(c->in, c->in_capacity = 2 * c->in_capacity + 65536);
        ssize_t n = recv(c->fd, c->in + c->in_length, c->in_capacity - c->in_length, 0);
        if (n < 0 && errno == EAGAIN) return;
        if (n <= 0) {
            // The server closed (or reset) the connection: the request in flight has no answer.
            if (c->current >= 0) {
                const char *reason = n == 0 ? "connection closed before the answer" : "connection reset";
                finish(c, 0, reason, strlen(reason));
            }
            reconnect(c);
            start_next(c);
            return;
        }
        c->in_length += (size_t)n;
        int closing = 0;
        if (c->current >= 0 && take_response(c, &closing)) {
            if (closing) reconnect(c);
            start_next(c);
            return;
        }
    }
}

int main(int argc, char **argv)
{
    if (argc != 7) {
        fprintf(stderr, "usage: loadgen HOST PORT CONCURRENCY REQUESTS RESULTS TIMEOUT_SECONDS\n");
        return 2;
    }
    server.sin_family = AF_INET;
    server.sin_port = htons((uint16_t)atoi(argv[2]));
    if (inet_pton(AF_INET, argv[1], &server.sin_addr) != 1) {
        fprintf(stderr, "loadgen: HOST must be an IPv4 address: %s\n", argv[1]);
        return 2;
    }
    char host_header[300];
    snprintf(host_header, sizeof host_header, "%s:%s", argv[1], argv[2]);
    int concurrency = atoi(argv[3]);
    double timeout = atof(argv[6]);
    parse_requests(argv[4], host_header);
    results = calloc((size_t)request_count + 1, sizeof *results);
    if (concurrency < 1) concurrency = 1;
    if (concurrency > request_count) concurrency = request_count > 0 ? (int)request_count : 1;

    epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    if (epoll_fd < 0) die("epoll_create1");
    struct connection *connections = calloc((size_t)concurrency, sizeof *connections);
    uint64_t start = now_ns();
    uint64_t deadline = start + (uint64_t)(timeout * 1e9);
    for (int i = 0; i < concurrency; i++) {
        connections[i].current = -1;
        open_connection(&connections[i]);
        start_next(&connections[i]);
    }
    struct epoll_event events[256];
    while (answered < request_count && now_ns() < deadline) {
        int count = epoll_wait(epoll_fd, events, 256, 100);
        if (count < 0 && errno != EINTR) die("epoll_wait");
        for (int i = 0; i < count; i++) {
            struct connection *c = events[i].data.ptr;
            if ((events[i].events & EPOLLOUT) && c->current >= 0 && c->sent < requests[c->current].wire_length) {
                if (send_some(c) < 0) {
                    const char *reason = "send failed";
                    finish(c, 0, reason, strlen(reason));
                    reconnect(c);
                    start_next(c);
                    continue;
                }
            }
            if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) readable(c);
        }
    }
    uint64_t wall = now_ns() - start;
    // Whatever is still in flight at the deadline has no answer.
    for (int i = 0; i < concurrency; i++) {
        if (connections[i].current >= 0) {
            const char *reason = "no answer before the time limit";
            finish(&connections[i], 0, reason, strlen(reason));
        }
    }

    FILE *out = fopen(argv[5], "wb");
    if (out == NULL) die(argv[5]);
    for (long i = 0; i < request_count; i++) {
        struct result *r = &results[i];
        // Never sent (the time limit came first): no line at all, so the caller sees fewer results.
        if (r->body == NULL && r->status == 0) break;
        fprintf(out, "%d %llu %zu\n", r->status, (unsigned long long)r->latency_ns, r->body_length);
        fwrite(r->body, 1, r->body_length, out);
    }
    fclose(out);
    printf("wall_ns %llu\n", (unsigned long long)wall);
    return 0;
}
