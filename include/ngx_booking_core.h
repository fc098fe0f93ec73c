/*
 * The booking core: time, slots, text and availability arithmetic.
 *
 * Nothing here knows about nginx requests, pools or Redis, so that it can be
 * unit-tested (tests/) and fuzzed without a server.  Only standard headers.
 */

#ifndef _NGX_BOOKING_CORE_H_INCLUDED_
#define _NGX_BOOKING_CORE_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>


#define NGX_BOOKING_OK            0
#define NGX_BOOKING_ERROR        -1
#define NGX_BOOKING_DECLINED     -5

/* 9999-12-31T23:59:59Z: the last instant RFC 3339 can write */
#define NGX_BOOKING_TIME_MAX      253402300799LL

#define NGX_BOOKING_DAY           86400

#define NGX_BOOKING_INSTANT_LEN   (sizeof("2026-12-01T10:00:00Z") - 1)
#define NGX_BOOKING_DATE_LEN      (sizeof("2026-12-01") - 1)

#define NGX_BOOKING_ID_MAX        64

/* an availability answer covers at most this many slots */
#define NGX_BOOKING_READ_SLOTS_MAX  100000

/*
 * the most slots one booking may span, whatever booking_max_range says:
 * a year of 15-minute slots, which one script checks and writes in a few
 * milliseconds
 */
#define NGX_BOOKING_BOOK_SLOTS_MAX  40000

/* the most slots a listing page's range may hold (per candidate) */
#define NGX_BOOKING_LIST_SLOTS_MAX  4096

/* the slots of one counter chunk in Redis (CHUNK of the scripts) */
#define NGX_BOOKING_CHUNK_SLOTS     256


typedef struct {
    int64_t     t;              /* seconds since 1970-01-01T00:00:00Z */
    unsigned    date_only:1;    /* written as a plain YYYY-MM-DD */
    unsigned    fraction:1;     /* a non-zero fraction of a second was given */
} ngx_booking_instant_t;


typedef struct {
    int64_t     start;
    int64_t     end;
    int64_t     units;
    int         closed;         /* outside opening hours: units 0 */
} ngx_booking_run_t;


/*
 * nginx duration syntax in seconds: "90", "30m", "1h30m", "2d", "1w".
 * Units y (365d) M (30d) w d h m s, each at most once and largest first; a
 * bare number is seconds only on its own ("1h30" is an error); no spaces,
 * signs or "ms".  The total is at most NGX_BOOKING_TIME_MAX.  Returns
 * NGX_BOOKING_OK or NGX_BOOKING_ERROR; *secs is written only on success.
 */
int ngx_booking_parse_duration(const u_char *p, size_t len, int64_t *secs);

/*
 * RFC 3339 date-time with any offset, or a plain full-date.
 *
 * "YYYY-MM-DD" (date_only, t is that day 00:00Z) or
 * "YYYY-MM-DDTHH:MM:SS[.F]Z" / "...+HH:MM" / "...-HH:MM" with T/t, Z/z and
 * 1 to 9 fraction digits; t is the floor second and "fraction" tells
 * whether a non-zero fraction was cut off.  Seconds 60 (leap) and offsets
 * of 24 hours or more are rejected, as is any instant outside
 * [0, NGX_BOOKING_TIME_MAX] in UTC.  *in is written only on success.
 */
int ngx_booking_parse_instant(const u_char *p, size_t len,
    ngx_booking_instant_t *in);

/*
 * Write exactly NGX_BOOKING_INSTANT_LEN ("YYYY-MM-DDTHH:MM:SSZ") or
 * NGX_BOOKING_DATE_LEN ("YYYY-MM-DD", the day containing t) bytes, no NUL,
 * and return the end.  t outside [0, NGX_BOOKING_TIME_MAX] is clamped.
 */
u_char *ngx_booking_format_instant(u_char *buf, int64_t t);
u_char *ngx_booking_format_date(u_char *buf, int64_t t);
/* "THH:MM:SSZ": what format_instant writes after the date */
u_char *ngx_booking_format_clock(u_char *buf, int64_t t);

/*
 * For t >= 0 and slot > 0: the largest multiple of slot <= t, the smallest
 * multiple >= t (INT64_MAX if it does not fit), and whether t is a
 * multiple.  Outside that domain floor and ceil return t unchanged, and
 * aligned returns 0 for slot <= 0.
 */
int64_t ngx_booking_slot_floor(int64_t t, int64_t slot);
int64_t ngx_booking_slot_ceil(int64_t t, int64_t slot);
int ngx_booking_slot_aligned(int64_t t, int64_t slot);

/* whether a type's slot is whole days: its instants are written as dates */
int ngx_booking_day_slot(int64_t slot);
int64_t ngx_booking_days_from_civil(int year, int month, int day);
void ngx_booking_civil_from_days(int64_t z, int *year, int *month, int *day);

/*
 * The body of a JSON string (no quotes) for the bytes s[0..n).  The quote
 * and the backslash get a backslash, \b \f \n \r \t are written as such,
 * other bytes below 0x20 and 0x7f as \u00xx (lowercase hex), U+2028 and
 * U+2029 as \u2028 and \u2029.  Valid UTF-8 is copied; each maximal
 * invalid subpart (a byte that cannot start a sequence, or the longest
 * valid prefix of a sequence that is cut short) becomes one "\ufffd".
 * The output grows at most 6 times; escape_len() returns exactly what
 * escape() writes, or SIZE_MAX if n > SIZE_MAX / 6.
 */
size_t ngx_booking_json_escape_len(const u_char *s, size_t n);
u_char *ngx_booking_json_escape(u_char *dst, const u_char *s, size_t n);

/* 1 if 1 <= len <= NGX_BOOKING_ID_MAX and all bytes are [A-Za-z0-9_-] */
int ngx_booking_id_valid(const u_char *p, size_t len);

/*
 * Look up "name" in a raw query string (no '?').  Pairs are separated by
 * '&', empty pairs are skipped, a pair without '=' has an empty value, and
 * keys are compared raw and case-sensitively (an empty name matches an
 * empty key).  The value is percent-decoded ('+' is a space) into buf.
 *
 * Returns 1 and sets *out_len if found; 0 if absent (or args or name is
 * NULL); -1 if the key appears more than once, or its value has a malformed
 * %-escape, contains or decodes to a NUL byte, or is longer than size.
 * Only the requested key's value is validated.  *out_len is written only
 * when 1 is returned; buf may hold a partial value after -1.
 */
int ngx_booking_query_arg(const u_char *args, size_t len, const char *name,
    u_char *buf, size_t size, size_t *out_len);

/*
 * counters holds n big-endian uint32 "units in use" for n consecutive
 * slots of "slot" seconds from "start".  Writes the maximal runs of equal
 * free units, capacity - used clamped to [0, capacity] (0 if capacity <=
 * 0), which cover [start, start + n * slot) without gaps, and returns their
 * number (at most n, 0 if n == 0).  Ends saturate at INT64_MAX/INT64_MIN
 * rather than overflow.
 */
size_t ngx_booking_runs(const u_char *counters, size_t n, int64_t start,
    int64_t slot, int64_t capacity, ngx_booking_run_t *runs);

/*
 * Writes the n runs as the items of an availability answer's "free" array,
 * {"start":"…","end":"…","units":n} separated by commas, times as dates
 * (2026-12-01) when date is set, else as instants; p has room for
 * n * NGX_BOOKING_RUN_JSON_LEN bytes.  Returns the end of what it wrote.
 */
#define NGX_BOOKING_RUN_JSON_LEN                                             \
    (sizeof(",{\"start\":\"\",\"end\":\"\",\"units\":,\"closed\":true}") - 1  \
     + 2 * NGX_BOOKING_INSTANT_LEN + sizeof("-9223372036854775808") - 1)

u_char *ngx_booking_runs_json(u_char *p, const ngx_booking_run_t *runs,
    size_t n, int date);

/*
 * The runs cut by closed time (ranges in order, apart): what falls in one
 * is a run of 0 units, closed, merged with the closed runs beside it.
 * out has room for n + 2 * nclosed runs.  Returns how many it wrote.
 */
size_t ngx_booking_runs_close(const ngx_booking_run_t *in, size_t n,
    const int64_t *cs, const int64_t *ce, size_t nclosed,
    ngx_booking_run_t *out);


/*
 * Hold tokens: HMAC-SHA256 over the booking id, keyed by the secret,
 * written in unpadded base64url (43 characters).  The check compares in
 * constant time.  Booking ids end in NGX_BOOKING_RAND_LEN random base64url
 * characters (12 random bytes).
 */
#define NGX_BOOKING_TOKEN_LEN     43
#define NGX_BOOKING_RAND_LEN      16

int ngx_booking_token(const u_char *key, size_t key_len, const u_char *id,
    size_t id_len, u_char *out);
int ngx_booking_token_check(const u_char *key, size_t key_len,
    const u_char *id, size_t id_len, const u_char *token, size_t len);
int ngx_booking_random_id(u_char *out);
int ngx_booking_rand_valid(const u_char *p, size_t len);


/*
 * iCalendar (RFC 5545): TEXT escaping (backslash, ';', ',' and newlines;
 * other control characters are dropped), and folding of content lines
 * (each ended by CRLF) at 75 octets, never inside a UTF-8 sequence.  The
 * _len functions return exactly what the writers write.
 */
size_t ngx_booking_ical_escape_len(const u_char *s, size_t n);
u_char *ngx_booking_ical_escape(u_char *dst, const u_char *s, size_t n);
size_t ngx_booking_ical_fold_len(const u_char *s, size_t n);
u_char *ngx_booking_ical_fold(u_char *dst, const u_char *s, size_t n);


/*
 * Request bodies, read with jansson and checked field by field.  A parser
 * returns the JSON root (the caller frees it with json_decref() once done
 * with the strings that point into it), or NULL with *err set: status 400
 * or 422, the spec's code, a message, and the field (which may point into
 * the JSON too).
 */
typedef struct {
    int             status;
    const char     *code;
    const char     *message;
    const char     *field;
    char            text[160];      /* jansson's words on unparsable JSON */
} ngx_booking_perr_t;


/* sets *err; answers NGX_BOOKING_ERROR, for "return ...(err, ...)" */
int ngx_booking_perr_set(ngx_booking_perr_t *err, int status,
    const char *code, const char *message, const char *field);


/* an item of a group: a resource, its range, its units */
#define NGX_BOOKING_ITEMS_MAX     16

typedef struct {
    const u_char   *resource;
    size_t          resource_len;
    int64_t         start;          /* -1: not given */
    int64_t         end;
    int64_t         quantity;
} ngx_booking_ireq_t;


typedef struct {
    const u_char   *resource;
    size_t          resource_len;
    const u_char   *kind;
    size_t          kind_len;
    const u_char   *note;
    size_t          note_len;
    int64_t         start;          /* -1: not given */
    int64_t         end;
    int64_t         quantity;
    int             hold;
    void           *repeat;         /* the JSON of "repeat"; NULL: none */
    int             skip;           /* skip_conflicts */
    size_t          nitems;         /* a group's items; 0: one booking */
    ngx_booking_ireq_t  items[NGX_BOOKING_ITEMS_MAX];
} ngx_booking_breq_t;


typedef struct {
    const u_char   *type;
    size_t          type_len;
    int64_t         capacity;
    const u_char   *owner;          /* NULL when not given */
    size_t          owner_len;
    int             located;
    double          lat;
    double          lon;
} ngx_booking_rreq_t;


/* Redis GEO's own bounds */
#define NGX_BOOKING_LAT_MAX       85.05112878
#define NGX_BOOKING_LON_MAX       180.0

/* a user id, from booking_user or a resource's owner */
#define NGX_BOOKING_USER_MAX      128

#define NGX_BOOKING_NOTE_MAX      1000
#define NGX_BOOKING_CAPACITY_MAX  1000000

void *ngx_booking_parse_booking(const u_char *body, size_t len,
    ngx_booking_breq_t *b, ngx_booking_perr_t *err);
void *ngx_booking_parse_resource(const u_char *body, size_t len,
    ngx_booking_rreq_t *res, ngx_booking_perr_t *err);


/*
 * Routes: a path below the booking_api location ("resources/r1/availability")
 * to what it names.  Methods and ids are checked by the caller.
 */
#define NGX_BOOKING_ROUTE_NONE          0   /* 404 "no such route" */
#define NGX_BOOKING_ROUTE_RESOURCES     1   /* resources */
#define NGX_BOOKING_ROUTE_RESOURCE      2   /* resources/{id} */
#define NGX_BOOKING_ROUTE_AVAILABILITY  3   /* resources/{id}/availability */
#define NGX_BOOKING_ROUTE_CALENDAR      4   /* resources/{id}/calendar.ics */
#define NGX_BOOKING_ROUTE_BOOKINGS      5   /* bookings */
#define NGX_BOOKING_ROUTE_BOOKING       6   /* bookings/{id} */
#define NGX_BOOKING_ROUTE_BOOKING_OP    7   /* bookings/{id}/{op} */
#define NGX_BOOKING_ROUTE_NO_BOOKING    8   /* 404 "no such booking" */
#define NGX_BOOKING_ROUTE_WAITLIST      9   /* waitlist */
#define NGX_BOOKING_ROUTE_ENTRY         10  /* waitlist/{id} */
#define NGX_BOOKING_ROUTE_NO_ENTRY      11  /* 404 "no such ... entry" */
#define NGX_BOOKING_ROUTE_GROUP         12  /* groups/{id} */
#define NGX_BOOKING_ROUTE_GROUP_OP      13  /* groups/{id}/{op} */
#define NGX_BOOKING_ROUTE_NO_GROUP      14  /* 404 "no such group" */


typedef struct {
    int             route;
    const u_char   *id;             /* the resource id */
    size_t          id_len;
    const u_char   *booking;        /* the whole booking id */
    size_t          booking_len;
    const u_char   *rand;           /* its random part */
    size_t          rand_len;
    const u_char   *op;             /* confirm, cancel, approve, decline */
    size_t          op_len;
} ngx_booking_route_t;


int ngx_booking_route_match(const u_char *path, size_t len,
    ngx_booking_route_t *rt);


/*
 * Keys (the contract's schema): a resource's keys carry one of
 * NGX_BOOKING_SHARDS hash tags, "{sNN}" with NN its shard in hex, drawn
 * from its id by CRC16, so that all of one resource (and the event stream
 * of its shard) live in one Redis Cluster hash slot, and the resources
 * spread over the cluster's nodes.  The hash slot of a key is the Redis
 * Cluster specification's: CRC16-XMODEM of the key, or of its hash tag
 * (what is between the first "{" and the next "}", when not empty),
 * modulo 16384.
 */
#define NGX_BOOKING_HASH_SLOTS    16384

uint16_t ngx_booking_crc16(const u_char *p, size_t len);
unsigned ngx_booking_hash_slot(const u_char *key, size_t len);
unsigned ngx_booking_shard(const u_char *id, size_t len);

/* an answer's body, for its ETag: not a MAC */
uint64_t ngx_booking_hash64(const u_char *p, size_t len);

/*
 * Redis Cluster's redirections and its table of slots (CLUSTER SLOTS, a
 * range at a time): what the node picker of booking_redis_cluster reads.
 * NGX_BOOKING_OK or NGX_BOOKING_ERROR.
 */
#define NGX_BOOKING_MOVED         1
#define NGX_BOOKING_ASK           2
#define NGX_BOOKING_NO_NODE       0xffff

typedef struct {
    unsigned        kind;           /* NGX_BOOKING_MOVED or _ASK */
    unsigned        slot;
    unsigned        port;
    const u_char   *host;           /* empty: the host that answered */
    size_t          host_len;
} ngx_booking_redirect_t;

typedef struct {
    uint16_t        node[NGX_BOOKING_HASH_SLOTS];
    unsigned        covered;        /* slots with a node */
} ngx_booking_slots_t;

int ngx_booking_redirect_parse(const u_char *p, size_t len,
    ngx_booking_redirect_t *r);
void ngx_booking_slots_clear(ngx_booking_slots_t *t);
int ngx_booking_slots_assign(ngx_booking_slots_t *t, unsigned first,
    unsigned last, unsigned node);
unsigned ngx_booking_slots_node(const ngx_booking_slots_t *t,
    const u_char *key, size_t len);

/* "bk:{sNN}:r:<id><suffix>": its length, then the key written at p */
size_t ngx_booking_rkey_len(size_t id_len, const char *suffix);
u_char *ngx_booking_skey(u_char *p, unsigned shard, const char *suffix);
u_char *ngx_booking_rkey(u_char *p, const u_char *id, size_t len,
    const char *suffix);
u_char *ngx_booking_rkey_in(u_char *p, unsigned shard, const u_char *id,
    size_t len, const char *suffix);


/*
 * The query arguments of the API, one table for every route that reads
 * any: each route names the ones it reads (a mask of NGX_BOOKING_Q_*);
 * any other is 400, as is one given twice or that cannot be read.  The
 * checks that need more than the argument itself (from and to together,
 * a type that exists, an id's pattern) are the operation's.
 */
#define NGX_BOOKING_Q_FROM        0x0001
#define NGX_BOOKING_Q_TO          0x0002
#define NGX_BOOKING_Q_TYPE        0x0004
#define NGX_BOOKING_Q_QUANTITY    0x0008
#define NGX_BOOKING_Q_NEAR        0x0010
#define NGX_BOOKING_Q_RADIUS      0x0020
#define NGX_BOOKING_Q_LIMIT       0x0040
#define NGX_BOOKING_Q_CURSOR      0x0080
#define NGX_BOOKING_Q_RESOURCE    0x0100
#define NGX_BOOKING_Q_STATUS      0x0200

#define NGX_BOOKING_TYPE_MAX      64
#define NGX_BOOKING_CURSOR_MAX    512
#define NGX_BOOKING_RESOURCE_MAX  256
#define NGX_BOOKING_LIMIT_MAX     100
#define NGX_BOOKING_RADIUS_MAX    1000000

typedef struct {
    unsigned        set;            /* NGX_BOOKING_Q_* given */
    int64_t         from;
    int64_t         to;
    int64_t         quantity;
    int64_t         radius;
    int64_t         limit;
    double          lat;
    double          lon;
    size_t          type_len;
    size_t          cursor_len;
    size_t          resource_len;
    size_t          status_len;
    u_char          type[NGX_BOOKING_TYPE_MAX];
    u_char          cursor[NGX_BOOKING_CURSOR_MAX];
    u_char          resource[NGX_BOOKING_RESOURCE_MAX];
    u_char          status[16];
} ngx_booking_query_t;

/*
 * NGX_BOOKING_OK with q filled (unset values are 0), or NGX_BOOKING_ERROR
 * with *err: 400 for an unknown, repeated or unreadable argument (field:
 * its name, at most 64 bytes of it as sent), 422 for one out of bounds.
 */
int ngx_booking_query_parse(const u_char *args, size_t len, unsigned allowed,
    ngx_booking_query_t *q, ngx_booking_perr_t *err);

/*
 * The arguments as the route reads them, in a fixed order and decoded,
 * for the micro-cache's key: two spellings of one query are one answer.
 * Returns the end of what it wrote; p has room for
 * NGX_BOOKING_QUERY_KEY_LEN bytes.
 */
#define NGX_BOOKING_QUERY_KEY_LEN                                            \
    (10 * 24 + NGX_BOOKING_TYPE_MAX + NGX_BOOKING_CURSOR_MAX                \
     + NGX_BOOKING_RESOURCE_MAX + 16 + 2 * 32)

u_char *ngx_booking_query_key(u_char *p, const ngx_booking_query_t *q);


/*
 * What the store answers, as typed results (the store decodes Redis's
 * replies into them; the view writes them out).  Strings are spans of the
 * reply: valid while it is, copied by whoever keeps them longer.
 */
typedef struct {
    const u_char           *data;
    size_t                  len;
} ngx_booking_span_t;


/*
 * Counters read as stored: the chunks (first, count) that hold slots
 * [s0, s0 + n); their 4 * n bytes from the chunks read (a chunk missing
 * or short reads as zeros); the most units in use among n of them.
 */
void ngx_booking_chunks(int64_t s0, size_t n, int64_t *first, size_t *count);
void ngx_booking_counters_from(u_char *dst, int64_t s0, size_t n,
    const ngx_booking_span_t *chunks, size_t nchunks, int64_t first);
int64_t ngx_booking_counters_max(const u_char *counters, size_t n);


/* a script's refusal: {"err", status, code, message[, field]} */
typedef struct {
    int                     status;
    ngx_booking_span_t      code;
    ngx_booking_span_t      message;
    ngx_booking_span_t      field;
} ngx_booking_refusal_t;


/* a booking, as the contract's tuple gives it; -1: does not apply */
typedef struct {
    int                     http;
    int                     replayed;
    ngx_booking_span_t      id;
    ngx_booking_span_t      resource;       /* the id up to its last dot */
    ngx_booking_span_t      type;
    ngx_booking_span_t      status;
    ngx_booking_span_t      kind;
    ngx_booking_span_t      user;
    ngx_booking_span_t      note;
    int64_t                 start;
    int64_t                 end;
    int64_t                 quantity;
    int64_t                 created_at;
    int64_t                 expires_at;
    int64_t                 updated_at;
    int64_t                 slot;
    int64_t                 position;       /* a waitlist entry's; -1 */
    ngx_booking_span_t      booking;        /* its offer; "": none yet */
    ngx_booking_span_t      group;          /* its group's id; "": none */
} ngx_booking_rec_t;


/* too few units free: the range's counters (timed), or the stock's free */
typedef struct {
    int64_t                 capacity;
    int64_t                 slot;           /* 0: timeless */
    int64_t                 start;
    int64_t                 quantity;
    int64_t                 free;
    ngx_booking_span_t      counters;
} ngx_booking_conflict_t;


/* an availability read: n slots from start, or a stock's units in use */
typedef struct {
    ngx_booking_span_t      type;
    int64_t                 slot;           /* 0: timeless */
    int64_t                 capacity;
    int64_t                 start;
    int64_t                 used;
    size_t                  n;
} ngx_booking_avail_t;


/* a resource's document, as PUT wrote it, or read back */
typedef struct {
    int                     found;
    int                     created;
    ngx_booking_span_t      doc;
    int64_t                 created_at;
    int64_t                 updated_at;
    ngx_booking_span_t      was;            /* the type before; "": none */
} ngx_booking_doc_t;


/* one candidate of a listing page */
typedef struct {
    int                     gone;
    ngx_booking_span_t      doc;            /* empty: too few units free */
    int64_t                 free;           /* -1: no range, not stock */
} ngx_booking_free_t;


typedef struct {
    ngx_booking_span_t      rand;
    int64_t                 start;
    int64_t                 end;
    int64_t                 updated_at;
    int                     block;
} ngx_booking_event_t;


typedef struct {
    int64_t                 slot;
    ngx_booking_span_t      name;
    size_t                  n;
    ngx_booking_event_t    *events;
} ngx_booking_calendar_t;


/* bookings one after another; missing ones ("") have no id */
typedef struct {
    ngx_booking_span_t      next;
    size_t                  n;
    ngx_booking_rec_t      *recs;
} ngx_booking_page_t;


/*
 * A group of bookings (a series, items): made, read or changed as a
 * whole.  A refused one has code, message and field; listed is what was
 * refused, the script's JSON array ("" for none): the occurrences skipped
 * on 2xx, the occurrences or items in conflict otherwise.
 */
typedef struct {
    int                     http;
    int                     replayed;
    ngx_booking_span_t      rand;
    ngx_booking_span_t      kind;
    ngx_booking_span_t      code;
    ngx_booking_span_t      message;
    ngx_booking_span_t      field;
    ngx_booking_span_t      listed;
    int64_t                 slot;
    ngx_booking_page_t      items;
} ngx_booking_group_t;


/* ids in order, with their distances (-1 without one) or scores */
typedef struct {
    size_t                  n;
    ngx_booking_span_t     *ids;
    double                 *values;
} ngx_booking_ids_t;


/* a plain command's array of strings (HMGET, TIME); a nil's data NULL */
typedef struct {
    size_t                  n;
    ngx_booking_span_t     *v;
} ngx_booking_fields_t;


/* what the caller expects; a refusal may come instead of most */
#define NGX_BOOKING_R_REFUSED     1
#define NGX_BOOKING_R_BOOKING     2     /* a tuple, or a conflict */
#define NGX_BOOKING_R_CONFLICT    3
#define NGX_BOOKING_R_AVAIL       4
#define NGX_BOOKING_R_PUT         5     /* resource_put */
#define NGX_BOOKING_R_GET         6     /* HMGET doc created_at updated_at */
#define NGX_BOOKING_R_DONE        7     /* {'ok'}, {'ok', type it had} */
#define NGX_BOOKING_R_FREE        8
#define NGX_BOOKING_R_CALENDAR    9
#define NGX_BOOKING_R_PAGE        10    /* {'ok', next, tuple...} */
#define NGX_BOOKING_R_RECS        11    /* {'ok', tuple or ''...} */
#define NGX_BOOKING_R_IDS         12    /* [id...] */
#define NGX_BOOKING_R_NEAR        13    /* [[id, distance]...] */
#define NGX_BOOKING_R_SCORED      14    /* [id, score, id, score...] */
#define NGX_BOOKING_R_STATUS      15    /* +OK, :n, anything */
#define NGX_BOOKING_R_FIELDS      16    /* [string or nil...] */
#define NGX_BOOKING_R_GROUP       17    /* {'group', http, rand, ...} */


typedef struct {
    int                      kind;
    ngx_booking_refusal_t    refusal;
    ngx_booking_rec_t        booking;
    ngx_booking_conflict_t   conflict;
    ngx_booking_avail_t      avail;
    ngx_booking_doc_t        doc;
    ngx_booking_free_t       free;
    ngx_booking_calendar_t   calendar;
    ngx_booking_page_t       page;
    ngx_booking_ids_t        ids;
    ngx_booking_fields_t     fields;
    ngx_booking_group_t      group;
    const void              *raw;       /* the store's: the reply itself */
} ngx_booking_result_t;


#endif /* _NGX_BOOKING_CORE_H_INCLUDED_ */
