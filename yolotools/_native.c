/* yolotools._native: the hot loops of COCO evaluation and of label reading and writing in C.
 *
 * Optional: setup.py builds it when a C compiler is there; without it every
 * caller takes the numpy path in yolotools/eval, which gives the same numbers
 * (tests/eval compare both with pycocotools).  No numpy headers: arrays come in
 * and go out through the buffer protocol.
 *
 * parse_coco_results(data: bytes) -> None | (img, cat, bbox, score, named)
 *     A COCO results file ``[{"image_id": int, "category_id": int,
 *     "bbox": [x, y, w, h], "score": number, ...}, ...]`` straight to four
 *     bytes buffers (int64, int64, float64 x4, float64) and whether any entry
 *     has a "file_name".  Numbers become the same doubles as Python's float()
 *     (correctly rounded: an exact fast path, else strtod).  None for anything
 *     else (another layout, a missing key, a non-integer id, NaN, an escape in
 *     a key, bad JSON): the caller then parses with orjson and reports.
 *
 * coco_eval(...) -> number of detections kept (maxDets per image and class)
 *     pycocotools' evaluateImg + accumulate for bbox, on flat arrays; see
 *     yolotools/eval/coco.py for the definitions it follows and the numpy
 *     version it must equal bit for bit.
 *
 * parse_voc_plain, voc_yolo_files, write_files: the plain VOC layout, read in C,
 *     and `convert voc`'s per-file loop (see each below; without them the
 *     regex/lxml reader and the Python writer give the same files).
 *
 * The labelling-tool formats and YOLO (#17; each below says what it takes and
 * that it answers None, or a status, for anything else, which the Python code
 * then reads and reports as before; tests/io_formats/test_formats_fast.py holds
 * every one to the Python path):
 *     image_sizes, yolo_label_files: PNG/JPEG headers (where imagesize.get gives
 *         the same) and read_yolo's clean label files, without the GIL;
 *     csv_table, kitti_plain, cvat_plain, labelme_plain: plain files of those
 *         formats straight to columns; read_files: many small files' bytes;
 *     box_floats: DatasetBuilder's float() + round(v, 9) for many values;
 *     yolo_texts, num_texts, num_rows: the YOLO txt of many images (printf's
 *         %.6f, by integer digits where that is provably the same), and the
 *         writers' number texts (num() / repr(), Python's own routine).
 */
#define PY_SSIZE_T_CLEAN
#define _GNU_SOURCE /* memmem */
#include <Python.h>
#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

/* "%.*f" of v, as printf writes it (correctly rounded, ties to even, "-" for
 * any negative value), written into o (at least 350 bytes); returns the length.
 * The common case (a magnitude whose scaled value is below 2^31, decimals <= 9,
 * not within 2^-20 of a tie) by integer digits: the product's error (<= 2^-22)
 * cannot change the rounding there; everything else by snprintf. */
static int fmt_fixed(char *o, double v, int d) {
    static const double P[10] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9};
    if (d >= 0 && d <= 9 && isfinite(v)) {
        double t = fabs(v) * P[d];
        if (t < 2147483648.0) {
            double f = floor(t), fr = t - f;
            if (fabs(fr - 0.5) > 1.0 / 1048576.0) {
                uint64_t r = (uint64_t)f + (fr > 0.5);
                char dig[24];
                int n = 0, k = 0;
                do {
                    dig[n++] = (char)('0' + r % 10);
                    r /= 10;
                } while (r);
                while (n < d + 1) dig[n++] = '0';
                if (signbit(v)) o[k++] = '-';
                for (int i = n - 1; i >= d; i--) o[k++] = dig[i];
                if (d) {
                    o[k++] = '.';
                    for (int i = d - 1; i >= 0; i--) o[k++] = dig[i];
                }
                return k;
            }
        }
    }
    return snprintf(o, 350, "%.*f", d, v);
}

/* one YOLO txt line "<class> <cx> <cy> <w> <h>\n" into o (at least 1500 bytes) */
static int yolo_line(char *o, long long c, double cx, double cy, double w, double h, int d) {
    int k = snprintf(o, 32, "%lld", c);
    double v[4] = {cx, cy, w, h};
    for (int i = 0; i < 4; i++) {
        o[k++] = ' ';
        k += fmt_fixed(o + k, v[i], d);
    }
    o[k++] = '\n';
    return k;
}

/* ------------------------------------------------------------------ JSON */

typedef struct {
    const char *p, *end;
} Cur;

static inline void skip_ws(Cur *c) {
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\n' || *c->p == '\r' || *c->p == '\t')) c->p++;
}

static const double POW10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* One JSON number.  *is_int: no fraction and no exponent (then *iv holds it when it
 * fits an int64).  Returns 0 on a grammar error. */
static int parse_number(Cur *c, double *dv, int64_t *iv, int *is_int) {
    const char *s = c->p, *q = c->p;
    int neg = 0;
    if (q < c->end && *q == '-') { neg = 1; q++; }
    if (q >= c->end || *q < '0' || *q > '9') return 0;
    uint64_t mant = 0;
    int ndig = 0, frac = 0, big = 0, int_ovf = 0;
    uint64_t ival = 0;
    if (*q == '0') {
        q++;
    } else {
        while (q < c->end && *q >= '0' && *q <= '9') {
            int d = *q - '0';
            if (ival > (UINT64_MAX - d) / 10) int_ovf = 1; else ival = ival * 10 + d;
            if (mant || d) {
                if (ndig < 19) { mant = mant * 10 + d; ndig++; } else { big = 1; frac--; }
            }
            q++;
        }
    }
    int has_frac = 0, has_exp = 0;
    if (q < c->end && *q == '.') {
        has_frac = 1;
        q++;
        if (q >= c->end || *q < '0' || *q > '9') return 0;
        while (q < c->end && *q >= '0' && *q <= '9') {
            int d = *q - '0';
            if (mant || d) {
                if (ndig < 19) { mant = mant * 10 + d; ndig++; frac++; } else big = 1;
            } else {
                frac++;
            }
            q++;
        }
    }
    long e = 0;
    if (q < c->end && (*q == 'e' || *q == 'E')) {
        has_exp = 1;
        q++;
        int eneg = 0;
        if (q < c->end && (*q == '+' || *q == '-')) { eneg = *q == '-'; q++; }
        if (q >= c->end || *q < '0' || *q > '9') return 0;
        while (q < c->end && *q >= '0' && *q <= '9') {
            if (e < 100000) e = e * 10 + (*q - '0');
            q++;
        }
        if (eneg) e = -e;
    }
    c->p = q;
    *is_int = !has_frac && !has_exp;
    if (*is_int) {
        if (int_ovf || ival > (uint64_t)INT64_MAX + (uint64_t)neg) *is_int = 0;  /* too big for int64: not an id */
        else *iv = neg ? (int64_t)(0 - ival) : (int64_t)ival;
    }
    long e10 = e - frac;
    if (mant == 0) {  /* -0 is the integer 0 (Python: float(int("-0")) == +0.0); -0.0 keeps its sign */
        *dv = neg && !*is_int && (has_frac || has_exp) ? -0.0 : 0.0;
        return 1;
    }
    if (!big && mant <= (1ULL << 53) && e10 >= -22 && e10 <= 22) {  /* exact operands: one correctly rounded op */
        double v = (double)mant;
        v = e10 < 0 ? v / POW10[-e10] : v * POW10[e10];
        *dv = neg ? -v : v;
        return 1;
    }
    size_t n = (size_t)(q - s);
    char buf[400];
    if (n >= sizeof buf) return 0;
    memcpy(buf, s, n);
    buf[n] = 0;
    *dv = strtod(buf, NULL);
    return isfinite(*dv) ? 1 : 0;
}

/* Skip a JSON string starting at '"'.  *escaped set when it holds a backslash. */
static int skip_string(Cur *c, int *escaped) {
    if (c->p >= c->end || *c->p != '"') return 0;
    c->p++;
    while (c->p < c->end) {
        char ch = *c->p++;
        if (ch == '"') return 1;
        if (ch == '\\') { /* JSON's escapes only: what orjson takes */
            if (escaped) *escaped = 1;
            if (c->p >= c->end) return 0;
            char e = *c->p++;
            if (e == 'u') {
                for (int k = 0; k < 4; k++, c->p++)
                    if (c->p >= c->end || !isxdigit((unsigned char)*c->p)) return 0;
            } else if (!e || !strchr("\"\\/bfnrt", e)) {
                return 0;
            }
        } else if ((unsigned char)ch < 0x20) {
            return 0;
        }
    }
    return 0;
}

static int skip_value(Cur *c, int depth) {
    if (depth > 64) return 0;
    skip_ws(c);
    if (c->p >= c->end) return 0;
    char ch = *c->p;
    if (ch == '"') return skip_string(c, NULL);
    if (ch == '{' || ch == '[') {
        char close = ch == '{' ? '}' : ']';
        c->p++;
        skip_ws(c);
        if (c->p < c->end && *c->p == close) { c->p++; return 1; }
        for (;;) {
            if (ch == '{') {
                skip_ws(c);
                if (!skip_string(c, NULL)) return 0;
                skip_ws(c);
                if (c->p >= c->end || *c->p != ':') return 0;
                c->p++;
            }
            if (!skip_value(c, depth + 1)) return 0;
            skip_ws(c);
            if (c->p >= c->end) return 0;
            if (*c->p == ',') { c->p++; continue; }
            if (*c->p == close) { c->p++; return 1; }
            return 0;
        }
    }
    if (ch == '-' || (ch >= '0' && ch <= '9')) {
        double d; int64_t i; int isint;
        return parse_number(c, &d, &i, &isint);
    }
    static const char *lits[3] = {"true", "false", "null"};
    for (int k = 0; k < 3; k++) {
        size_t n = strlen(lits[k]);
        if ((size_t)(c->end - c->p) >= n && memcmp(c->p, lits[k], n) == 0) { c->p += n; return 1; }
    }
    return 0;
}

typedef struct {
    char *data;
    size_t len, cap;
} Buf;

static int buf_push(Buf *b, const void *v, size_t n) {
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 1 << 16;
        while (cap < b->len + n) cap *= 2;
        char *d = realloc(b->data, cap);
        if (!d) return 0;
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, v, n);
    b->len += n;
    return 1;
}

enum { K_OTHER, K_IMAGE, K_CAT, K_BBOX, K_SCORE, K_FILE };

static int key_of(const char *s, size_t n) {
#define IS(lit) (n == sizeof(lit) - 1 && memcmp(s, lit, n) == 0)
    if (IS("image_id")) return K_IMAGE;
    if (IS("category_id")) return K_CAT;
    if (IS("bbox")) return K_BBOX;
    if (IS("score")) return K_SCORE;
    if (IS("file_name")) return K_FILE;
    return K_OTHER;
#undef IS
}

/* One detection object; 1 = parsed, 0 = not the simple layout. */
static int parse_det(Cur *c, Buf *img, Buf *cat, Buf *box, Buf *score, int *named) {
    if (c->p >= c->end || *c->p != '{') return 0;
    c->p++;
    int have = 0;
    int64_t im = 0, ca = 0;
    double bb[4], sc = 0;
    skip_ws(c);
    if (c->p < c->end && *c->p == '}') return 0;
    for (;;) {
        skip_ws(c);
        const char *k0 = c->p + 1;
        int esc = 0;
        if (!skip_string(c, &esc) || esc) return 0;
        int key = key_of(k0, (size_t)(c->p - 1 - k0));
        skip_ws(c);
        if (c->p >= c->end || *c->p != ':') return 0;
        c->p++;
        skip_ws(c);
        double dv; int64_t iv; int isint;
        switch (key) {
        case K_IMAGE:
        case K_CAT:
            if (!parse_number(c, &dv, &iv, &isint) || !isint) return 0;
            if (key == K_IMAGE) im = iv; else ca = iv;
            have |= 1 << key;
            break;
        case K_SCORE:
            if (!parse_number(c, &dv, &iv, &isint)) return 0;
            sc = dv;
            have |= 1 << key;
            break;
        case K_BBOX:
            if (c->p >= c->end || *c->p != '[') return 0;
            c->p++;
            for (int j = 0; j < 4; j++) {
                skip_ws(c);
                if (!parse_number(c, &bb[j], &iv, &isint)) return 0;
                skip_ws(c);
                if (c->p >= c->end || *c->p != (j < 3 ? ',' : ']')) return 0;
                c->p++;
            }
            have |= 1 << key;
            break;
        default:
            if (key == K_FILE) *named = 1;
            if (!skip_value(c, 1)) return 0;
        }
        skip_ws(c);
        if (c->p >= c->end) return 0;
        if (*c->p == ',') { c->p++; continue; }
        if (*c->p == '}') { c->p++; break; }
        return 0;
    }
    if (have != ((1 << K_IMAGE) | (1 << K_CAT) | (1 << K_BBOX) | (1 << K_SCORE))) return 0;
    return buf_push(img, &im, 8) && buf_push(cat, &ca, 8) && buf_push(box, bb, 32) && buf_push(score, &sc, 8) ? 1 : -1;
}

static PyObject *parse_coco_results(PyObject *self, PyObject *arg) {
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0) return NULL;
    Cur c = {(const char *)view.buf, (const char *)view.buf + view.len};
    Buf b[4] = {{0}};
    int named = 0, ok = 0, oom = 0;
    Py_BEGIN_ALLOW_THREADS
    if (c.end - c.p >= 3 && memcmp(c.p, "\xEF\xBB\xBF", 3) == 0) c.p += 3;
    skip_ws(&c);
    if (c.p < c.end && *c.p == '[') {
        c.p++;
        skip_ws(&c);
        if (c.p < c.end && *c.p == ']') {
            c.p++;
            ok = 1;
        } else {
            for (;;) {
                skip_ws(&c);
                int r = parse_det(&c, &b[0], &b[1], &b[2], &b[3], &named);
                if (r <= 0) { oom = r < 0; break; }
                skip_ws(&c);
                if (c.p >= c.end) break;
                if (*c.p == ',') { c.p++; continue; }
                if (*c.p == ']') { c.p++; ok = 1; }
                break;
            }
        }
        skip_ws(&c);
        if (c.p != c.end) ok = 0;
    }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&view);
    PyObject *res = NULL;
    if (oom) {
        PyErr_NoMemory();
    } else if (!ok) {
        res = Py_None;
        Py_INCREF(res);
    } else {
        PyObject *o[4];
        int i;
        for (i = 0; i < 4; i++) {
            o[i] = PyBytes_FromStringAndSize(b[i].data ? b[i].data : "", (Py_ssize_t)b[i].len);
            if (!o[i]) break;
        }
        if (i == 4) res = Py_BuildValue("(NNNNO)", o[0], o[1], o[2], o[3], named ? Py_True : Py_False);
        else while (i--) Py_DECREF(o[i]);
    }
    for (int i = 0; i < 4; i++) free(b[i].data);
    return res;
}

/* ------------------------------------------------------------------ COCO eval */

typedef struct {
    Py_buffer v;
    int held;
} Arr;

static int get_arr(PyObject *o, Arr *a, Py_ssize_t want_bytes, int writable, const char *name) {
    if (PyObject_GetBuffer(o, &a->v, writable ? PyBUF_WRITABLE | PyBUF_C_CONTIGUOUS : PyBUF_C_CONTIGUOUS) < 0) return 0;
    a->held = 1;
    if (a->v.len != want_bytes) {
        PyErr_Format(PyExc_ValueError, "coco_eval: %s has %zd bytes, expected %zd", name, a->v.len, want_bytes);
        return 0;
    }
    return 1;
}

/* A stable sort of (a, b, i) items by (a, b) ascending: equal keys keep their input order, as numpy's
 * mergesort.  Insertion sort on runs of 16, then bottom-up merges through tmp. */
typedef struct {
    double a, b;
    int64_t i;
} Item;

static inline int item_lt(const Item *x, const Item *y) { return x->a < y->a || (x->a == y->a && x->b < y->b); }

static int stable_sort(Item *v, int64_t n, Item *tmp) {
    const int64_t RUN = 16;
    for (int64_t s = 0; s < n; s += RUN) {
        int64_t e = s + RUN < n ? s + RUN : n;
        for (int64_t i = s + 1; i < e; i++) {
            Item x = v[i];
            int64_t j = i;
            while (j > s && item_lt(&x, &v[j - 1])) { v[j] = v[j - 1]; j--; }
            v[j] = x;
        }
    }
    Item *src = v, *dst = tmp;
    for (int64_t w = RUN; w < n; w *= 2) {
        for (int64_t s = 0; s < n; s += 2 * w) {
            int64_t m = s + w < n ? s + w : n, e = s + 2 * w < n ? s + 2 * w : n, i = s, j = m, k = s;
            while (i < m && j < e) dst[k++] = item_lt(&src[j], &src[i]) ? src[j++] : src[i++];
            while (i < m) dst[k++] = src[i++];
            while (j < e) dst[k++] = src[j++];
        }
        Item *t = src; src = dst; dst = t;
    }
    if (src != v) memcpy(v, src, sizeof(Item) * n);
    return 1;
}

/* indices 0..n-1 grouped by key (counting sort, stable): order[], start[nkeys+1] */
static int bucket(const int64_t *key, int64_t n, int64_t nkeys, int64_t *order, int64_t *start) {
    int64_t *fill = malloc(sizeof(int64_t) * (nkeys + 1));
    if (!fill) return 0;
    memset(start, 0, sizeof(int64_t) * (nkeys + 1));
    for (int64_t i = 0; i < n; i++) start[key[i] + 1]++;
    for (int64_t k = 0; k < nkeys; k++) start[k + 1] += start[k];
    memcpy(fill, start, sizeof(int64_t) * (nkeys + 1));
    for (int64_t i = 0; i < n; i++) order[fill[key[i]]++] = i;
    free(fill);
    return 1;
}

static PyObject *coco_eval(PyObject *self, PyObject *args) {
    /* g_img, g_cls, g_box (xyxy), g_area, g_crowd (uint8), d_img, d_cls, d_box (xyxy), d_score, n_img, K,
     * iou_thrs, rec_thrs, area_rng (A x 2), max_dets (int64, ascending), precision, recall, scores (outputs) */
    PyObject *o[16];
    long long n_img, K;
    if (!PyArg_ParseTuple(args, "OOOOOOOOOLLOOOOOOO", &o[0], &o[1], &o[2], &o[3], &o[4], &o[5], &o[6], &o[7], &o[8], &n_img, &K,
                          &o[9], &o[10], &o[11], &o[12], &o[13], &o[14], &o[15]))
        return NULL;
    Arr a[16];
    memset(a, 0, sizeof a);
    PyObject *result = NULL;
    Py_ssize_t sz[5];
    const int szi[5] = {0, 5, 9, 10, 12}, szd[5] = {8, 8, 8, 8, 8};
    for (int i = 0; i < 5; i++) {
        Py_buffer probe;
        if (PyObject_GetBuffer(o[szi[i]], &probe, PyBUF_SIMPLE) < 0) return NULL;
        sz[i] = probe.len / szd[i];
        PyBuffer_Release(&probe);
    }
    Py_ssize_t ng = sz[0], nd = sz[1], T = sz[2], R = sz[3], M = sz[4], A;
    {
        Py_buffer probe;
        if (PyObject_GetBuffer(o[11], &probe, PyBUF_SIMPLE) < 0) return NULL;
        A = probe.len / 16;
        PyBuffer_Release(&probe);
    }
    if (T < 1 || R < 1 || A < 1 || M < 1 || K < 1 || n_img < 0) {
        PyErr_SetString(PyExc_ValueError, "coco_eval: bad parameter sizes");
        return NULL;
    }
    Py_ssize_t want[16] = {ng * 8, ng * 8, ng * 32, ng * 8, ng, nd * 8, nd * 8, nd * 32, nd * 8, T * 8, R * 8, A * 16, M * 8,
                           T * R * K * A * M * 8, T * K * A * M * 8, T * R * K * A * M * 8};
    static const char *names[16] = {"g_img", "g_cls", "g_box", "g_area", "g_crowd", "d_img", "d_cls", "d_box", "d_score",
                                    "iou_thrs", "rec_thrs", "area_rng", "max_dets", "precision", "recall", "scores"};
    for (int i = 0; i < 16; i++)
        if (!get_arr(o[i], &a[i], want[i], i >= 13, names[i])) goto done;
    const int64_t *g_img = a[0].v.buf, *g_cls = a[1].v.buf, *d_img = a[5].v.buf, *d_cls = a[6].v.buf, *max_dets = a[12].v.buf;
    const double *g_box = a[2].v.buf, *g_area = a[3].v.buf, *d_box = a[7].v.buf, *d_score = a[8].v.buf;
    const double *iou_thrs = a[9].v.buf, *rec_thrs = a[10].v.buf, *area_rng = a[11].v.buf;
    const uint8_t *g_crowd = a[4].v.buf;
    double *precision = a[13].v.buf, *recall = a[14].v.buf, *scores = a[15].v.buf;
    int bad = 0, oom = 0;
    for (Py_ssize_t i = 0; i < ng && !bad; i++) bad = g_img[i] < 0 || g_img[i] >= n_img || g_cls[i] < 0 || g_cls[i] >= K;
    for (Py_ssize_t i = 0; i < nd && !bad; i++) bad = d_img[i] < 0 || d_img[i] >= n_img || d_cls[i] < 0 || d_cls[i] >= K;
    for (Py_ssize_t m = 1; m < M && !bad; m++) bad = max_dets[m] < max_dets[m - 1];
    if (bad || max_dets[0] < 1) {
        PyErr_SetString(PyExc_ValueError, "coco_eval: image or class index out of range, or max_dets not ascending");
        goto done;
    }
    const int64_t max_det = max_dets[M - 1];
    int64_t n_kept = 0;
    Py_BEGIN_ALLOW_THREADS
    /* 1. group by image, then by class inside each image */
    int64_t *g_ord = malloc(sizeof(int64_t) * (ng + 1)), *g_st = malloc(sizeof(int64_t) * (n_img + 2));
    int64_t *d_ord = malloc(sizeof(int64_t) * (nd + 1)), *d_st = malloc(sizeof(int64_t) * (n_img + 2));
    /* kept detections (rank < max_det), laid out by (image, class, rank): x = 0 .. nk-1 */
    int64_t *k_src = malloc(sizeof(int64_t) * (nd + 1)), *k_rank = malloc(sizeof(int64_t) * (nd + 1));
    const size_t AT = (size_t)A * T;
    /* per kept detection, per (area, IoU threshold): bit 0 matched, bit 1 ignored */
    uint8_t *k_code = malloc(AT * (nd + 1));
    int64_t *npig = calloc((size_t)K * A, sizeof(int64_t));
    double *k_area = malloc(sizeof(double) * (nd + 1)), *g_barea = malloc(sizeof(double) * (ng + 1));
    int64_t nk = 0, *c_st = NULL, *c_next = NULL;
    double *ious = NULL;
    int64_t ious_cap = 0, gcap = 0;
    int64_t *gtind = NULL;
    uint8_t *gtm = NULL, *gig = NULL;
    if (!g_ord || !g_st || !d_ord || !d_st || !k_src || !k_rank || !k_code || !npig || !k_area || !g_barea) {
        oom = 1;
        goto free_all;
    }
    if (!bucket(g_img, ng, n_img, g_ord, g_st) || !bucket(d_img, nd, n_img, d_ord, d_st)) {
        oom = 1;
        goto free_all;
    }
    for (Py_ssize_t j = 0; j < ng; j++) g_barea[j] = (g_box[4 * j + 2] - g_box[4 * j]) * (g_box[4 * j + 3] - g_box[4 * j + 1]);
    /* inside an image: ground truth by class (file order kept), detections by class then score
     * descending (file order kept) */
    {
        int64_t most = 0;
        for (int64_t im = 0; im < n_img; im++) {
            if (g_st[im + 1] - g_st[im] > most) most = g_st[im + 1] - g_st[im];
            if (d_st[im + 1] - d_st[im] > most) most = d_st[im + 1] - d_st[im];
        }
        Item *it = malloc(sizeof(Item) * (most + 1) * 2);
        if (!it) { oom = 1; goto free_all; }
        for (int64_t im = 0; im < n_img; im++) {
            int64_t n = g_st[im + 1] - g_st[im], *o = g_ord + g_st[im];
            if (n < 2) continue;
            for (int64_t q = 0; q < n; q++) it[q] = (Item){(double)g_cls[o[q]], 0.0, o[q]};
            stable_sort(it, n, it + most + 1);
            for (int64_t q = 0; q < n; q++) o[q] = it[q].i;
        }
        for (int64_t im = 0; im < n_img; im++) {
            int64_t n = d_st[im + 1] - d_st[im], *o = d_ord + d_st[im];
            if (n < 2) continue;
            for (int64_t q = 0; q < n; q++) it[q] = (Item){(double)d_cls[o[q]], -d_score[o[q]], o[q]};
            stable_sort(it, n, it + most + 1);
            for (int64_t q = 0; q < n; q++) o[q] = it[q].i;
        }
        free(it);
    }
    /* kept detections are laid out by class, then image, then rank: slots c_st[k] .. c_st[k + 1] */
    c_st = calloc((size_t)K + 2, sizeof(int64_t));
    c_next = malloc(sizeof(int64_t) * (K + 2));
    if (!c_st || !c_next) { oom = 1; goto free_all; }
    for (int64_t im = 0; im < n_img; im++)
        for (int64_t di = d_st[im], de = d_st[im + 1]; di < de;) {
            int64_t k = d_cls[d_ord[di]], d0 = di;
            while (di < de && d_cls[d_ord[di]] == k) di++;
            c_st[k + 1] += di - d0 < max_det ? di - d0 : max_det;
        }
    for (int64_t k = 0; k < K; k++) c_st[k + 1] += c_st[k];
    memcpy(c_next, c_st, sizeof(int64_t) * (K + 1));
    nk = c_st[K];
    /* 2. evaluateImg per (image, class), every area range and IoU threshold */
    for (int64_t im = 0; im < n_img && !oom; im++) {
        int64_t gi = g_st[im], ge = g_st[im + 1], di = d_st[im], de = d_st[im + 1];
        while (gi < ge || di < de) {
            int64_t k = K;
            if (gi < ge) k = g_cls[g_ord[gi]];
            if (di < de && d_cls[d_ord[di]] < k) k = d_cls[d_ord[di]];
            int64_t g0 = gi, d0 = di;
            while (gi < ge && g_cls[g_ord[gi]] == k) gi++;
            while (di < de && d_cls[d_ord[di]] == k) di++;
            int64_t G = gi - g0, D = di - d0 < max_det ? di - d0 : max_det;
            const int64_t *gs = g_ord + g0, *ds = d_ord + d0;
            if (G * D > ious_cap) {
                ious_cap = G * D * 2;
                double *t = realloc(ious, sizeof(double) * ious_cap);
                if (!t) { oom = 1; break; }
                ious = t;
            }
            if (G > gcap) {
                gcap = G * 2;
                int64_t *t1 = realloc(gtind, sizeof(int64_t) * gcap);
                if (t1) gtind = t1;
                uint8_t *t2 = realloc(gtm, (size_t)gcap * T);
                if (t2) gtm = t2;
                uint8_t *t3 = realloc(gig, (size_t)gcap);
                if (t3) gig = t3;
                if (!t1 || !t2 || !t3) { oom = 1; break; }
            }
            /* IoU [D, G] as pycocotools' bbIou (a crowd box's union is the detection's area) */
            int64_t kbase = c_next[k];
            c_next[k] += D;
            for (int64_t x = 0; x < D; x++) {
                const double *db = d_box + 4 * ds[x];
                double da = (db[2] - db[0]) * (db[3] - db[1]);
                k_src[kbase + x] = ds[x];
                k_rank[kbase + x] = x;
                k_area[kbase + x] = da;
                if (G == 0) {  /* nothing to match: unmatched, ignored outside the area range */
                    for (Py_ssize_t ar = 0; ar < A; ar++)
                        memset(k_code + (size_t)(kbase + x) * AT + ar * T, (da < area_rng[2 * ar] || da > area_rng[2 * ar + 1]) << 1, T);
                    continue;
                }
                for (int64_t y = 0; y < G; y++) {
                    const double *gb = g_box + 4 * gs[y];
                    double iw = (db[2] < gb[2] ? db[2] : gb[2]) - (db[0] > gb[0] ? db[0] : gb[0]);
                    double ih = (db[3] < gb[3] ? db[3] : gb[3]) - (db[1] > gb[1] ? db[1] : gb[1]);
                    double v = 0.0;
                    if (iw > 0 && ih > 0) {
                        double inter = iw * ih;
                        double uni = g_crowd[gs[y]] ? da : da + g_barea[gs[y]] - inter;
                        v = inter / uni;
                    }
                    ious[x * G + y] = v;
                }
            }
            for (Py_ssize_t ar = 0; ar < A && G; ar++) {
                double lo = area_rng[2 * ar], hi = area_rng[2 * ar + 1];
                int64_t w = 0;
                for (int64_t y = 0; y < G; y++) {
                    int64_t j = gs[y];
                    gig[y] = g_crowd[j] || g_area[j] < lo || g_area[j] > hi;
                    if (!gig[y]) gtind[w++] = y;
                }
                npig[k * A + ar] += w;
                for (int64_t y = 0; y < G; y++)
                    if (gig[y]) gtind[w++] = y;
                memset(gtm, 0, (size_t)T * G);
                for (Py_ssize_t t = 0; t < T; t++) {
                    uint8_t *gm = gtm + t * G;
                    for (int64_t x = 0; x < D; x++) {
                        double best = iou_thrs[t];
                        int64_t m = -1;
                        const double *row = ious + x * G;
                        for (int64_t q = 0; q < G; q++) {
                            int64_t y = gtind[q];
                            if (gm[y] && !g_crowd[gs[y]]) continue;
                            if (m > -1 && !gig[m] && gig[y]) break;
                            if (row[y] < best) continue;
                            best = row[y];
                            m = y;
                        }
                        uint8_t *code = k_code + (size_t)(kbase + x) * AT + ar * T + t;
                        if (m == -1) {
                            double da = k_area[kbase + x];
                            *code = (da < lo || da > hi) << 1;
                        } else {
                            gm[m] = 1;
                            *code = 1 | gig[m] << 1;
                        }
                    }
                }
            }
        }
    }
    if (oom) goto free_all;
    /* 3. accumulate per class: kept detections in (image, rank) order, then by score (stable) */
    {
        int64_t *c_ord = malloc(sizeof(int64_t) * (nk + 1));
        double *kscore = malloc(sizeof(double) * (nk + 1)), *lscore = malloc(sizeof(double) * (nk + 1));
        int64_t *cthr = malloc(sizeof(int64_t) * R * A);
        int64_t ns_max = 0;
        int ok = c_ord && kscore && lscore && cthr;
        if (ok)
            for (int64_t x = 0; x < nk; x++) {
                c_ord[x] = x;
                kscore[x] = d_score[k_src[x]];
            }
        if (ok)
            for (int64_t k = 0; k < K; k++)
                if (c_st[k + 1] - c_st[k] > ns_max) ns_max = c_st[k + 1] - c_st[k];
        /* codes of one class in score order; per (area, threshold) j: first[j][c] = position where the
         * true-positive count first reaches c, fpat[j][c] = false positives before it */
        size_t cap = (size_t)ns_max + 2;
        uint8_t *pack = ok ? malloc(AT * cap) : NULL;
        Item *it = ok ? malloc(sizeof(Item) * cap * 2) : NULL;
        int32_t *first = ok ? malloc(sizeof(int32_t) * AT * cap) : NULL, *fpat = ok ? malloc(sizeof(int32_t) * AT * cap) : NULL;
        int32_t *tpc = malloc(sizeof(int32_t) * AT), *fpc = malloc(sizeof(int32_t) * AT);
        double *env = malloc(sizeof(double) * cap);
        const double eps = 2.220446049250313e-16; /* np.spacing(1) */
        if (!ok || !pack || !it || !first || !fpat || !tpc || !fpc || !env) {
            oom = 1;
        } else {
            for (int64_t k = 0; k < K; k++) {
                int64_t *sel = c_ord + c_st[k], ns = c_st[k + 1] - c_st[k];
                int any_gt = 0;
                for (Py_ssize_t ar = 0; ar < A; ar++) any_gt |= npig[k * A + ar] > 0;
                if (!any_gt) continue; /* every entry stays -1 */
                if (ns > 1) {  /* by score descending; sel is in (image, rank) order, which ties keep */
                    for (int64_t q = 0; q < ns; q++) it[q] = (Item){-kscore[sel[q]], 0.0, sel[q]};
                    stable_sort(it, ns, it + cap);
                    for (int64_t q = 0; q < ns; q++) sel[q] = it[q].i;
                }
                for (int64_t q = 0; q < ns; q++) memcpy(pack + q * AT, k_code + (size_t)sel[q] * AT, AT);
                for (Py_ssize_t ar = 0; ar < A; ar++) {
                    /* the smallest tp count whose recall (tp / npig, as numpy) reaches each threshold */
                    int64_t np_ = npig[k * A + ar];
                    for (Py_ssize_t r = 0, cc = 0; r < R; r++) {
                        while (cc <= np_ && (double)cc / (double)np_ < rec_thrs[r]) cc++;
                        cthr[ar * R + r] = cc;
                    }
                }
                for (Py_ssize_t mi = 0; mi < M; mi++) {
                    int64_t mdet = max_dets[mi], n = 0;
                    memset(tpc, 0, sizeof(int32_t) * AT);
                    memset(fpc, 0, sizeof(int32_t) * AT);
                    for (size_t j = 0; j < AT; j++) first[j * cap] = 0, fpat[j * cap] = 0;
                    for (int64_t q = 0; q < ns; q++) {
                        if (k_rank[sel[q]] >= mdet) continue;
                        const uint8_t *v = pack + q * AT;
                        int hit = 0;
                        for (size_t j = 0; j < AT; j++) {  /* 0: false positive, 1: true positive, 2/3: ignored */
                            tpc[j] += v[j] == 1;
                            fpc[j] += v[j] == 0;
                            hit |= v[j] == 1;
                        }
                        if (hit)
                            for (size_t j = 0; j < AT; j++)
                                if (v[j] == 1) {
                                    first[j * cap + tpc[j]] = (int32_t)n;
                                    fpat[j * cap + tpc[j]] = fpc[j];
                                }
                        lscore[n++] = kscore[sel[q]];
                    }
                    for (Py_ssize_t ar = 0; ar < A; ar++) {
                        int64_t np_ = npig[k * A + ar];
                        if (np_ == 0) continue; /* stays -1 */
                        for (Py_ssize_t t = 0; t < T; t++) {
                            size_t j = ar * T + t, ri = (((size_t)t * K + k) * A + ar) * M + mi;
                            int64_t tp = tpc[j];
                            recall[ri] = n ? (double)tp / (double)np_ : 0;
                            /* with tp fixed precision only falls as fp grows, so the envelope (max over later
                             * positions) at the first position of each tp count is the max over later counts */
                            double run = 0;
                            for (int64_t cc = tp; cc >= 0; cc--) {
                                double pr = (double)cc / (((double)fpat[j * cap + cc] + (double)cc) + eps);
                                if (pr > run) run = pr;
                                env[cc] = run;
                            }
                            for (Py_ssize_t r = 0; r < R; r++) {
                                size_t pi = ((((size_t)t * R + r) * K + k) * A + ar) * M + mi;
                                int64_t cc = cthr[ar * R + r];
                                int in = n > 0 && cc <= tp;
                                precision[pi] = in ? env[cc] : 0;
                                scores[pi] = in ? lscore[first[j * cap + cc]] : 0;
                            }
                        }
                    }
                }
            }
        }
        free(c_ord);
        free(kscore);
        free(lscore);
        free(cthr);
        free(pack);
        free(it);
        free(first);
        free(fpat);
        free(tpc);
        free(fpc);
        free(env);
    }
free_all:
    n_kept = nk;
    free(c_st);
    free(c_next);
    free(ious);
    free(gtind);
    free(gtm);
    free(gig);
    free(g_ord);
    free(g_st);
    free(d_ord);
    free(d_st);
    free(k_src);
    free(k_rank);
    free(k_code);
    free(npig);
    free(k_area);
    free(g_barea);
    Py_END_ALLOW_THREADS
    if (oom) {
        PyErr_NoMemory();
        goto done;
    }
    result = PyLong_FromLongLong(n_kept);
done:
    for (int i = 0; i < 16; i++)
        if (a[i].held) PyBuffer_Release(&a[i].v);
    return result;
}

/* ------------------------------------------------------------------ VOC XML (plain layout) */

/* parse_voc_plain(data: bytes) -> None | (filename or None, (h, w) or None, names, boxes, difficult)
 *
 * The plain VOC layout only, with exactly the results of the regex fast path in
 * yolotools/io/voc/parse.py (_parse_regex): ASCII, no attributes, comments, CDATA,
 * PIs, self-closing tags or character references, one <annotation> root, every tag
 * closed by its own name.  Unlike the regex path it also takes '=' and XML's five
 * entities in text it does not use (the fields read are the same as with them
 * replaced).  None for anything else (the caller then runs the regex path, and
 * lxml after it).  Being stricter than expat on this subset, what it accepts expat
 * accepts too. */

typedef struct {
    const char *s;
    Py_ssize_t n;
} Span;

static Py_ssize_t find(const char *h, Py_ssize_t hn, Py_ssize_t from, const char *needle) {
    size_t nn = strlen(needle);
    if (from < 0 || (size_t)(hn - from) < nn) return -1;
    const char *r = memmem(h + from, (size_t)(hn - from), needle, nn);
    return r ? (Py_ssize_t)(r - h) : -1;
}

static Py_ssize_t count(const char *h, Py_ssize_t hn, const char *needle) {
    Py_ssize_t c = 0, at = 0, nn = (Py_ssize_t)strlen(needle);
    while ((at = find(h, hn, at, needle)) >= 0) { c++; at += nn; }
    return c;
}

static inline int is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

/* Python's bytes.strip() / str.strip() of an ASCII text without control characters */
static Span strip(Span v) {
    while (v.n && is_ws(v.s[0])) v.s++, v.n--;
    while (v.n && is_ws(v.s[v.n - 1])) v.n--;
    return v;
}

/* float(text) for [ws][+-](digits[.digits]|.digits)([eE][+-]digits)[ws]; 0 when the text has another form
 * (Python may still read it: underscores, inf, nan; the caller falls back) or the value is not finite */
/* a token as Python's float() reads it, when it is plain decimal
 * ([+-]digits[.digits][(e|E)[+-]digits], at most 300 characters, no spaces); 0 for anything else.
 * strtod is correctly rounded, as float() is. */
static int plain_float(const char *s, const char *e, double *out) {
    const char *p = s;
    if (p < e && (*p == '+' || *p == '-')) p++;
    int dig = 0;
    while (p < e && *p >= '0' && *p <= '9') { p++; dig++; }
    if (p < e && *p == '.') {
        p++;
        while (p < e && *p >= '0' && *p <= '9') { p++; dig++; }
    }
    if (!dig) return 0;
    if (p < e && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < e && (*p == '+' || *p == '-')) p++;
        int ed = 0;
        while (p < e && *p >= '0' && *p <= '9') { p++; ed++; }
        if (!ed) return 0;
    }
    if (p != e || e - s > 300) return 0;
    char tmp[320];
    memcpy(tmp, s, (size_t)(e - s));
    tmp[e - s] = 0;
    *out = strtod(tmp, NULL);
    return 1;
}

/* VOC text: stripped, plain decimal, finite */
static int py_float(Span v, double *out) {
    v = strip(v);
    return v.n > 0 && plain_float(v.s, v.s + v.n, out) && isfinite(*out);
}

static int name_start(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' || c == ':'; }
static int name_char(char c) { return name_start(c) || (c >= '0' && c <= '9') || c == '-' || c == '.'; }

/* The document is the subset described above and well-formed. */
static int plain_xml(const char *d, Py_ssize_t n) {
    for (Py_ssize_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)d[i];
        if (c >= 0x80 || (c < 0x20 && c != '\t' && c != '\n' && c != '\r')) return 0;
        if (c == '&') { /* only XML's own five entities, and only in text the reader does not use (checked there) */
            static const char *ents[] = {"&amp;", "&lt;", "&gt;", "&quot;", "&apos;", NULL};
            int ok = 0;
            for (int k = 0; ents[k] && !ok; k++) {
                size_t el = strlen(ents[k]);
                ok = (size_t)(n - i) >= el && memcmp(d + i, ents[k], el) == 0;
            }
            if (!ok) return 0;
        }
    }
    if (find(d, n, 0, "<!") >= 0 || find(d, n, 0, "]]>") >= 0) return 0;
    Py_ssize_t i = 0;
    while (i < n && (d[i] == ' ' || d[i] == '\t' || d[i] == '\n' || d[i] == '\r')) i++;
    if (n - i >= 5 && memcmp(d + i, "<?xml", 5) == 0) {  /* only the usual declarations, at the very start */
        static const char *decls[] = {"<?xml version=\"1.0\"?>", "<?xml version=\"1.0\" encoding=\"utf-8\"?>",
                                      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>", "<?xml version='1.0'?>",
                                      "<?xml version='1.0' encoding='utf-8'?>", "<?xml version='1.0' encoding='UTF-8'?>",
                                      "<?xml version=\"1.0\" encoding=\"utf-8\" standalone=\"yes\"?>",
                                      "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>", NULL};
        if (i != 0) return 0;
        int ok = 0;
        for (int k = 0; decls[k] && !ok; k++) {
            size_t dl = strlen(decls[k]);
            if ((size_t)n >= dl && memcmp(d, decls[k], dl) == 0) { i = (Py_ssize_t)dl; ok = 1; }
        }
        if (!ok) return 0;
    }
    /* elements: a stack of open tag names */
    const char *stack[64];
    Py_ssize_t slen[64];
    int depth = 0, seen_root = 0;
    while (i < n) {
        if (d[i] != '<') {
            if (depth == 0 && !is_ws(d[i])) return 0;  /* text outside the root */
            i++;
            continue;
        }
        if (i + 1 < n && d[i + 1] == '/') {
            Py_ssize_t s0 = i + 2, k = s0;
            while (k < n && name_char(d[k])) k++;
            if (k >= n || d[k] != '>' || depth == 0) return 0;
            depth--;
            if (k - s0 != slen[depth] || memcmp(d + s0, stack[depth], k - s0) != 0) return 0;
            i = k + 1;
            continue;
        }
        Py_ssize_t s0 = i + 1, k = s0;
        if (k >= n || !name_start(d[k])) return 0;
        while (k < n && name_char(d[k])) k++;
        if (k >= n || d[k] != '>') return 0;  /* attributes, self-closing tags, PIs: not plain */
        if (depth == 0 && seen_root) return 0;
        if (depth == 64) return 0;
        stack[depth] = d + s0;
        slen[depth] = k - s0;
        depth++;
        seen_root = 1;
        i = k + 1;
    }
    return depth == 0 && seen_root;
}

/* findall(<tag>([^<]*)</tag>) over h: the number of matches, the first in *v */
static int find_text(const char *h, Py_ssize_t hn, const char *open, const char *close, Span *v) {
    int c = 0;
    Py_ssize_t at = 0, on = (Py_ssize_t)strlen(open), cn = (Py_ssize_t)strlen(close);
    while ((at = find(h, hn, at, open)) >= 0) {
        Py_ssize_t t = at + on, e = t;
        while (e < hn && h[e] != '<') e++;
        if (hn - e >= cn && memcmp(h + e, close, cn) == 0) {
            if (c == 0) { v->s = h + t; v->n = e - t; }
            c++;
            at = e + cn;
        } else {
            at = at + 1;
        }
    }
    return c;
}

static Py_ssize_t skip_ws_at(const char *h, Py_ssize_t hn, Py_ssize_t i) {
    while (i < hn && is_ws(h[i])) i++;
    return i;
}

/* match "<tag>([^<]*)</tag>" exactly at i; returns the index after it or -1 */
static Py_ssize_t match_text(const char *h, Py_ssize_t hn, Py_ssize_t i, const char *tag, Span *v) {
    char open[32], close[32];
    snprintf(open, sizeof open, "<%s>", tag);
    snprintf(close, sizeof close, "</%s>", tag);
    Py_ssize_t on = (Py_ssize_t)strlen(open), cn = (Py_ssize_t)strlen(close);
    if (hn - i < on || memcmp(h + i, open, on) != 0) return -1;
    Py_ssize_t t = i + on, e = t;
    while (e < hn && h[e] != '<') e++;
    if (hn - e < cn || memcmp(h + e, close, cn) != 0) return -1;
    v->s = h + t;
    v->n = e - t;
    return e + cn;
}

/* One parsed plain VOC file, no Python objects (so that a loop over files can run without the GIL). */
typedef struct {
    Py_ssize_t name_off, name_len; /* into VocDoc.names */
    double v[4];
    int difficult;
} VocObj;

typedef struct {
    int has_hw;
    long long h, w;
    const char *fname; /* into the data; NULL: no <filename> or an empty one */
    Py_ssize_t fname_len;
    Buf objs;  /* VocObj */
    Buf names; /* the object names' bytes */
    char *tmp; /* the text of an object without its <part>s */
    size_t tmp_cap;
} VocDoc;

static void voc_doc_free(VocDoc *doc) {
    free(doc->objs.data);
    free(doc->names.data);
    free(doc->tmp);
}

/* 1: a plain file, *doc filled; 0: not plain (the caller falls back); -1: out of memory */
static int voc_plain_doc(const char *d, Py_ssize_t n, VocDoc *doc) {
    doc->has_hw = 0;
    doc->fname = NULL;
    doc->fname_len = 0;
    doc->objs.len = 0;
    doc->names.len = 0;
    /* _RE_DECL: \A(\xef\xbb\xbf)?\s*(<\?xml[^>]*\?>)?\s*<annotation>.  Unlike the regex path, an '=' or one of
     * XML's five entities in text is fine here (plain_xml has ruled out attributes; an entity in a field this
     * reader uses sends the file to the caller's path): the fields read are the same as with them replaced */
    Py_ssize_t ann = find(d, n, 0, "<annotation");
    if (ann < 0 || !plain_xml(d, n)) return 0;
    {
        Py_ssize_t i = skip_ws_at(d, n, 0);
        if (n - i >= 5 && memcmp(d + i, "<?xml", 5) == 0) {
            Py_ssize_t e = find(d, n, i, "?>");
            i = skip_ws_at(d, n, e + 2);
        }
        if (n - i < 12 || memcmp(d + i, "<annotation>", 12) != 0) return 0;
    }
    /* objects: findall <object>(.*?)</object>; every "<object" must be one */
    Py_ssize_t n_open = count(d, n, "<object>");
    if (count(d, n, "<object") != n_open) return 0;
    if (find(d, n, 0, "<size>") >= 0) {
        if (count(d, n, "<size>") != 1) return 0;
        Py_ssize_t i = find(d, n, 0, "<size>") + 6;
        Span ws, hs, dp;
        i = skip_ws_at(d, n, i);
        i = match_text(d, n, i, "width", &ws);
        if (i < 0) return 0;
        i = match_text(d, n, skip_ws_at(d, n, i), "height", &hs);
        if (i < 0) return 0;
        i = skip_ws_at(d, n, i);
        Py_ssize_t j = match_text(d, n, i, "depth", &dp);
        if (j >= 0) i = skip_ws_at(d, n, j);
        if (n - i < 7 || memcmp(d + i, "</size>", 7) != 0) return 0;
        double w, h;
        if (!py_float(ws, &w) || !py_float(hs, &h) || fabs(w) >= 9e15 || fabs(h) >= 9e15) return 0;
        long long wi = (long long)w, hi = (long long)h; /* int(float(...)): toward zero */
        if (wi <= 0 || hi <= 0) return 0;
        doc->has_hw = 1;
        doc->h = hi;
        doc->w = wi;
    }
    {
        Span fv;
        int nf = find_text(d, n, "<filename>", "</filename>", &fv);
        if (nf > 1) return 0;
        if (nf == 1) {
            fv = strip(fv);
            if (memchr(fv.s, '&', (size_t)fv.n)) return 0;
            if (fv.n) {
                doc->fname = fv.s;
                doc->fname_len = fv.n;
            }
        }
    }
    Py_ssize_t at = 0, n_obj = 0;
    while ((at = find(d, n, at, "<object>")) >= 0) {
        Py_ssize_t t = at + 8, e = find(d, n, t, "</object>");
        if (e < 0) break;
        n_obj++;
        const char *o = d + t;
        Py_ssize_t on = e - t;
        at = e + 9;
        if (find(o, on, 0, "<part") >= 0) { /* drop <part>.*?</part> */
            if ((size_t)on + 1 > doc->tmp_cap) {
                char *nb = realloc(doc->tmp, (size_t)on + 1);
                if (!nb) return -1;
                doc->tmp = nb;
                doc->tmp_cap = (size_t)on + 1;
            }
            char *buf = doc->tmp;
            Py_ssize_t w = 0, r = 0, p;
            while ((p = find(o, on, r, "<part>")) >= 0) {
                Py_ssize_t q = find(o, on, p + 6, "</part>");
                if (q < 0) break;
                memcpy(buf + w, o + r, p - r);
                w += p - r;
                r = q + 7;
            }
            memcpy(buf + w, o + r, on - r);
            w += on - r;
            o = buf;
            on = w;
            if (find(o, on, 0, "<part") >= 0) return 0;
        }
        Span nm, df, c[4];
        int nn = find_text(o, on, "<name>", "</name>", &nm);
        int nd_ = find_text(o, on, "<difficult>", "</difficult>", &df);
        /* _RE_BB: <bndbox>\s*<xmin>..</xmin>\s*<ymin>..</ymin>\s*<xmax>..</xmax>\s*<ymax>..</ymax>\s*</bndbox> */
        int nb = 0;
        {
            Py_ssize_t b0 = 0;
            static const char *tags[4] = {"xmin", "ymin", "xmax", "ymax"};
            while ((b0 = find(o, on, b0, "<bndbox>")) >= 0) {
                Py_ssize_t i = b0 + 8;
                Span cs[4];
                int ok = 1;
                for (int k = 0; k < 4 && ok; k++) {
                    i = match_text(o, on, skip_ws_at(o, on, i), tags[k], &cs[k]);
                    ok = i >= 0;
                }
                if (ok) {
                    i = skip_ws_at(o, on, i);
                    ok = on - i >= 9 && memcmp(o + i, "</bndbox>", 9) == 0;
                }
                if (ok) {
                    if (nb == 0) memcpy(c, cs, sizeof cs);
                    nb++;
                    b0 = i + 9;
                } else {
                    b0++;
                }
            }
        }
        if (nn != 1 || nb != 1 || count(o, on, "<bndbox") != 1 || nd_ > 1) return 0;
        nm = strip(nm);
        if (memchr(nm.s, '&', (size_t)nm.n) || (nd_ == 1 && memchr(df.s, '&', (size_t)df.n))) return 0;
        VocObj ob;
        int okf = 1;
        for (int k = 0; k < 4 && okf; k++) okf = py_float(c[k], &ob.v[k]);
        if (!nm.n || !okf) return 0;
        ob.difficult = 0;
        if (nd_ == 1) {
            Span s2 = strip(df);
            ob.difficult = !(s2.n == 0 || (s2.n == 1 && s2.s[0] == '0') || (s2.n == 5 && memcmp(s2.s, "false", 5) == 0) ||
                             (s2.n == 5 && memcmp(s2.s, "False", 5) == 0));
        }
        ob.name_off = (Py_ssize_t)doc->names.len;
        ob.name_len = nm.n;
        if (!buf_push(&doc->names, nm.s, (size_t)nm.n) || !buf_push(&doc->objs, &ob, sizeof ob)) return -1;
    }
    if (n_obj != n_open) return 0;
    return 1;
}

static PyObject *parse_voc_plain(PyObject *self, PyObject *arg) {
    if (!PyBytes_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "parse_voc_plain: bytes");
        return NULL;
    }
    VocDoc doc = {0};
    int r = voc_plain_doc(PyBytes_AS_STRING(arg), PyBytes_GET_SIZE(arg), &doc);
    if (r <= 0) {
        voc_doc_free(&doc);
        if (r < 0) return PyErr_NoMemory();
        Py_RETURN_NONE;
    }
    Py_ssize_t no = (Py_ssize_t)(doc.objs.len / sizeof(VocObj));
    const VocObj *obs = (const VocObj *)doc.objs.data;
    PyObject *fname = doc.fname ? PyUnicode_DecodeASCII(doc.fname, doc.fname_len, NULL) : (Py_INCREF(Py_None), Py_None);
    PyObject *hw = doc.has_hw ? Py_BuildValue("(LL)", doc.h, doc.w) : (Py_INCREF(Py_None), Py_None);
    PyObject *names = PyList_New(no), *boxes = PyList_New(no), *diffs = PyList_New(no);
    int bad = !fname || !hw || !names || !boxes || !diffs;
    for (Py_ssize_t k = 0; k < no && !bad; k++) {
        PyObject *ns = PyUnicode_DecodeASCII(doc.names.data + obs[k].name_off, obs[k].name_len, NULL);
        PyObject *bx = Py_BuildValue("(dddd)", obs[k].v[0], obs[k].v[1], obs[k].v[2], obs[k].v[3]);
        PyObject *df = obs[k].difficult ? Py_True : Py_False;
        Py_INCREF(df);
        bad = !ns || !bx;
        /* a list owns what is set in it, NULL items included, so each goes in as made */
        if (ns) PyList_SET_ITEM(names, k, ns);
        if (bx) PyList_SET_ITEM(boxes, k, bx);
        PyList_SET_ITEM(diffs, k, df);
    }
    voc_doc_free(&doc);
    if (bad) {
        Py_XDECREF(fname);
        Py_XDECREF(hw);
        Py_XDECREF(names);
        Py_XDECREF(boxes);
        Py_XDECREF(diffs);
        return NULL;
    }
    return Py_BuildValue("(NNNNN)", fname, hw, names, boxes, diffs);
}

/* ------------------------------------------------------------------ VOC XML -> YOLO txt, file by file */

/* voc_yolo_files(xml_paths, class_names, offsets, skip_difficult, decimals)
 *     -> (status, hw, nbox, cls, boxes, difficult, filenames, texts, ends)
 *
 * The whole per-file work of `convert voc` for the files nothing is to be said
 * about, without the GIL: read the file, parse it as parse_voc_plain does, map
 * each object name to its class index, move the box by the pixel convention's
 * `offsets`, and make its YOLO txt (the text yolotools/io/yolo/lines.py's
 * yolo_lines makes: the same IEEE operations, the same correctly rounded
 * decimals), which write_files below writes.  A file is left to the caller
 * (status 1, nothing returned for it) when it cannot be read, is not plain, has
 * no <size>, names a class not in class_names, or has a box that is empty or
 * crosses the image border: everything that yolotools reports or repairs goes
 * through the Python reader, which says what it did.
 * xml_paths: list of str or bytes (file system paths); class_names: list of
 * bytes (UTF-8); offsets: 4 floats added to xmin, ymin, xmax, ymax.
 * Returns bytes buffers: status (uint8 per file), hw (int64 h, w per file),
 * nbox (int32 per file), cls (int32 per box), boxes (float64 x1 y1 x2 y2 per box,
 * after the offsets), difficult (uint8 per box), the <filename> of each file
 * (str, or None when absent/empty or the file was left to the caller), every
 * file's text one after the other and where each ends (int64 per file). */

typedef struct {
    const char *s;
    Py_ssize_t n;
    int32_t index;
} ClassSlot;

static uint64_t fnv1a(const char *s, Py_ssize_t n) {
    uint64_t h = 1469598103934665603ULL;
    for (Py_ssize_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    return h;
}

static int32_t class_lookup(const ClassSlot *tab, size_t mask, const char *s, Py_ssize_t n) {
    for (size_t k = (size_t)fnv1a(s, n) & mask;; k = (k + 1) & mask) {
        if (!tab[k].s) return -1;
        if (tab[k].n == n && memcmp(tab[k].s, s, (size_t)n) == 0) return tab[k].index;
    }
}

static int read_whole(const char *path, Buf *b) { /* 1 ok, 0 unreadable / not a regular file / too large */
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > (64 << 20)) { close(fd); return 0; }
    size_t want = (size_t)st.st_size;
    if (b->cap < want + 1) {
        char *d = realloc(b->data, want + 1);
        if (!d) { close(fd); return 0; }
        b->data = d;
        b->cap = want + 1;
    }
    size_t got = 0;
    for (;;) { /* to the end of the file, whatever fstat said */
        if (got == b->cap) {
            if (b->cap > (64u << 20)) { close(fd); return 0; }
            char *d = realloc(b->data, b->cap * 2);
            if (!d) { close(fd); return 0; }
            b->data = d;
            b->cap *= 2;
        }
        ssize_t r = read(fd, b->data + got, b->cap - got);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) { close(fd); return 0; }
        if (r == 0) break;
        got += (size_t)r;
    }
    close(fd);
    b->len = got;
    return 1;
}

static int write_whole(const char *path, const char *data, size_t n) { /* 0 ok, else errno */
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return errno;
    size_t done = 0;
    while (done < n) {
        ssize_t w = write(fd, data + done, n - done);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) { int e = errno; close(fd); return e; }
        done += (size_t)w;
    }
    if (close(fd) != 0) return errno;
    return 0;
}

/* a tuple of the list's paths as bytes (str encoded as os.fsencode does) */
static PyObject *fs_tuple(PyObject *list) {
    Py_ssize_t n = PyList_GET_SIZE(list);
    PyObject *t = PyTuple_New(n);
    for (Py_ssize_t i = 0; t && i < n; i++) {
        PyObject *o = PyList_GET_ITEM(list, i), *b;
        if (PyBytes_Check(o)) {
            b = o;
            Py_INCREF(b);
        } else if (PyUnicode_Check(o)) {
            b = PyUnicode_EncodeFSDefault(o);
        } else {
            PyErr_SetString(PyExc_TypeError, "voc_yolo_files: paths are str or bytes");
            b = NULL;
        }
        if (!b) { Py_CLEAR(t); break; }
        PyTuple_SET_ITEM(t, i, b);
    }
    return t;
}

static PyObject *voc_yolo_files(PyObject *self, PyObject *args) {
    PyObject *xmls, *cnames;
    double off[4];
    int skip_difficult, decimals;
    if (!PyArg_ParseTuple(args, "O!O!(dddd)pi", &PyList_Type, &xmls, &PyList_Type, &cnames,
                          &off[0], &off[1], &off[2], &off[3], &skip_difficult, &decimals))
        return NULL;
    Py_ssize_t nf = PyList_GET_SIZE(xmls), nc = PyList_GET_SIZE(cnames);
    if (decimals < 0 || decimals > 30) {
        PyErr_SetString(PyExc_ValueError, "voc_yolo_files: decimals 0..30");
        return NULL;
    }
    /* the inputs, held while the GIL is released: tuples of bytes made from the lists own their items */
    PyObject *xt = fs_tuple(xmls), *ct = PyList_AsTuple(cnames);
    const char **xp = NULL;
    ClassSlot *tab = NULL;
    size_t mask = 1;
    while (mask < (size_t)(2 * nc + 2)) mask <<= 1;
    PyObject *result = NULL;
    if (!xt || !ct) goto done;
    xp = malloc(sizeof(char *) * (nf + 1));
    tab = calloc(mask, sizeof(ClassSlot));
    mask -= 1;
    if (!xp || !tab) { PyErr_NoMemory(); goto done; }
    for (Py_ssize_t i = 0; i < nf; i++) {
        xp[i] = PyBytes_AS_STRING(PyTuple_GET_ITEM(xt, i));
    }
    for (Py_ssize_t i = 0; i < nc; i++) { /* a later duplicate wins, as in {name: i for ...} */
        PyObject *a = PyTuple_GET_ITEM(ct, i);
        if (!PyBytes_Check(a)) {
            PyErr_SetString(PyExc_TypeError, "voc_yolo_files: class names are bytes");
            goto done;
        }
        const char *s = PyBytes_AS_STRING(a);
        Py_ssize_t n = PyBytes_GET_SIZE(a);
        size_t k = (size_t)fnv1a(s, n) & mask;
        while (tab[k].s && !(tab[k].n == n && memcmp(tab[k].s, s, (size_t)n) == 0)) k = (k + 1) & mask;
        tab[k].s = s;
        tab[k].n = n;
        tab[k].index = (int32_t)i;
    }
    {
        Buf status = {0}, hw = {0}, nbox = {0}, cls = {0}, boxes = {0}, diff = {0}, fnames = {0}, data = {0}, text = {0};
        Buf fspan = {0}; /* (offset, length) into fnames per file; length -1: None */
        Buf alltext = {0}, ends = {0}; /* every file's text, and where each ends */
        VocDoc doc = {0};
        int nomem = 0;
        Py_BEGIN_ALLOW_THREADS
        for (Py_ssize_t i = 0; i < nf && !nomem; i++) {
            uint8_t st = 1;
            int64_t hw2[2] = {0, 0};
            int32_t nb = 0;
            Py_ssize_t span[2] = {0, -1};
            int r = read_whole(xp[i], &data) ? voc_plain_doc(data.data, (Py_ssize_t)data.len, &doc) : 0;
            if (r < 0) { nomem = 1; break; }
            if (r == 1 && doc.has_hw) {
                const VocObj *obs = (const VocObj *)doc.objs.data;
                Py_ssize_t no = (Py_ssize_t)(doc.objs.len / sizeof(VocObj));
                double fw = (double)doc.w, fh = (double)doc.h;
                int ok = 1;
                size_t cls0 = cls.len, box0 = boxes.len, diff0 = diff.len;
                text.len = 0;
                for (Py_ssize_t k = 0; k < no && ok; k++) {
                    int32_t ci = class_lookup(tab, mask, doc.names.data + obs[k].name_off, obs[k].name_len);
                    double x1 = obs[k].v[0] + off[0], y1 = obs[k].v[1] + off[1], x2 = obs[k].v[2] + off[2], y2 = obs[k].v[3] + off[3];
                    /* the reader's checks: empty, then clipped (max/min as Python's, a -0.0 kept) or outside */
                    double c0 = 0.0 > x1 ? 0.0 : x1, c1 = 0.0 > y1 ? 0.0 : y1, c2 = fw < x2 ? fw : x2, c3 = fh < y2 ? fh : y2;
                    if (ci < 0 || x2 <= x1 || y2 <= y1 || c0 != x1 || c1 != y1 || c2 != x2 || c3 != y2) { ok = 0; break; }
                    uint8_t d = (uint8_t)obs[k].difficult;
                    double bx[4] = {x1, y1, x2, y2};
                    if (!buf_push(&cls, &ci, sizeof ci) || !buf_push(&boxes, bx, sizeof bx) || !buf_push(&diff, &d, 1)) { nomem = 1; break; }
                    if (skip_difficult && d) continue;
                    char line[1600];
                    int ln = yolo_line(line, (long long)ci, (x1 + x2) / 2.0 / fw, (y1 + y2) / 2.0 / fh, (x2 - x1) / fw, (y2 - y1) / fh,
                                       decimals);
                    if (ln < 0 || ln >= 512) { ok = 0; break; }
                    if (!buf_push(&text, line, (size_t)ln)) { nomem = 1; break; }
                }
                if (nomem) break;
                if (ok) {
                    if (!buf_push(&alltext, text.data ? text.data : "", text.len)) { nomem = 1; break; }
                    st = 0;
                    hw2[0] = doc.h;
                    hw2[1] = doc.w;
                    nb = (int32_t)no;
                    if (doc.fname) {
                        span[0] = (Py_ssize_t)fnames.len;
                        span[1] = doc.fname_len;
                        if (!buf_push(&fnames, doc.fname, (size_t)doc.fname_len)) { nomem = 1; break; }
                    }
                } else { /* undo this file's boxes */
                    cls.len = cls0;
                    boxes.len = box0;
                    diff.len = diff0;
                }
            }
            int64_t end = (int64_t)alltext.len;
            if (!buf_push(&status, &st, 1) || !buf_push(&hw, hw2, sizeof hw2) || !buf_push(&nbox, &nb, sizeof nb) ||
                !buf_push(&fspan, span, sizeof span) || !buf_push(&ends, &end, sizeof end))
                nomem = 1;
        }
        Py_END_ALLOW_THREADS
        if (nomem) {
            PyErr_NoMemory();
        } else {
            PyObject *names = PyList_New(nf);
            const Py_ssize_t *sp = (const Py_ssize_t *)fspan.data;
            for (Py_ssize_t i = 0; names && i < nf; i++) {
                PyObject *o = sp[2 * i + 1] < 0 ? (Py_INCREF(Py_None), Py_None)
                                                : PyUnicode_DecodeASCII(fnames.data + sp[2 * i], sp[2 * i + 1], NULL);
                if (!o) { Py_CLEAR(names); break; }
                PyList_SET_ITEM(names, i, o);
            }
#define BYTES(b) PyBytes_FromStringAndSize((b).data ? (b).data : "", (Py_ssize_t)(b).len)
            if (names)
                result = Py_BuildValue("(NNNNNNNNN)", BYTES(status), BYTES(hw), BYTES(nbox), BYTES(cls), BYTES(boxes), BYTES(diff),
                                       names, BYTES(alltext), BYTES(ends));
#undef BYTES
        }
        free(status.data); free(hw.data); free(nbox.data); free(cls.data); free(boxes.data); free(diff.data);
        free(fnames.data); free(data.data); free(text.data); free(fspan.data); free(alltext.data); free(ends.data);
        voc_doc_free(&doc);
    }
done:
    free(xp);
    free(tab);
    Py_XDECREF(xt);
    Py_XDECREF(ct);
    return result;
}

/* write_files(paths, status, data, ends[, tmp_tail]) -> None
 *
 * With tmp_tail, each file is written whole as <folder>/.<name><tmp_tail> and
 * renamed into place (files.atomic_write_bytes' rule: a reader sees the old
 * file or the new one).
 * Write the files voc_yolo_files(..., None, ...) left as text: paths[i] gets
 * data[ends[i-1]:ends[i]] when status[i] is 0, without the GIL (one thread
 * creating files: on a slow disk, two creating files in one folder are slower
 * than one).  An OSError names the file. */
static PyObject *write_files(PyObject *self, PyObject *args) {
    PyObject *paths;
    Py_buffer st, data, ends;
    const char *tmp_tail = NULL; /* atomic: each file written as <folder>/.<name><tmp_tail> and renamed into place */
    if (!PyArg_ParseTuple(args, "O!y*y*y*|z", &PyList_Type, &paths, &st, &data, &ends, &tmp_tail)) return NULL;
    Py_ssize_t n = PyList_GET_SIZE(paths);
    PyObject *pt = NULL, *result = NULL;
    const char **pp = NULL;
    if (st.len != n || ends.len != (Py_ssize_t)(n * sizeof(int64_t))) {
        PyErr_SetString(PyExc_ValueError, "write_files: one status and one end per path");
        goto done;
    }
    const int64_t *e = (const int64_t *)ends.buf;
    for (Py_ssize_t i = 0; i < n; i++)
        if (e[i] < (i ? e[i - 1] : 0) || e[i] > (int64_t)data.len) {
            PyErr_SetString(PyExc_ValueError, "write_files: ends out of order or past the data");
            goto done;
        }
    pt = fs_tuple(paths);
    pp = malloc(sizeof(char *) * (n + 1));
    if (!pt || !pp) {
        if (pt) PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++) pp[i] = PyBytes_AS_STRING(PyTuple_GET_ITEM(pt, i));
    int werr = 0;
    Py_ssize_t at = -1;
    const uint8_t *sv = (const uint8_t *)st.buf;
    const char *dv = (const char *)data.buf;
    Py_BEGIN_ALLOW_THREADS
    char tmp[4096];
    for (Py_ssize_t i = 0; i < n && !werr; i++) {
        if (sv[i]) continue;
        int64_t b = i ? e[i - 1] : 0;
        if (!tmp_tail) {
            werr = write_whole(pp[i], dv + b, (size_t)(e[i] - b));
        } else {
            const char *slash = strrchr(pp[i], '/');
            size_t dl = slash ? (size_t)(slash - pp[i] + 1) : 0;
            int ln = snprintf(tmp, sizeof tmp, "%.*s.%s%s", (int)dl, pp[i], pp[i] + dl, tmp_tail);
            if (ln < 0 || ln >= (int)sizeof tmp) werr = ENAMETOOLONG;
            else if ((werr = write_whole(tmp, dv + b, (size_t)(e[i] - b))) == 0 && rename(tmp, pp[i]) != 0) {
                werr = errno;
                unlink(tmp);
            } else if (werr) {
                unlink(tmp);
            }
        }
        if (werr) at = i;
    }
    Py_END_ALLOW_THREADS
    if (werr) {
        errno = werr;
        PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, at < PyList_GET_SIZE(paths) ? PyList_GET_ITEM(paths, at)
                                                                                      : PyTuple_GET_ITEM(pt, at));
        goto done;
    }
    Py_INCREF(Py_None);
    result = Py_None;
done:
    free(pp);
    Py_XDECREF(pt);
    PyBuffer_Release(&st);
    PyBuffer_Release(&data);
    PyBuffer_Release(&ends);
    return result;
}


/* ------------------------------------------------------- image headers, YOLO labels */

/* (h, w) of a PNG or JPEG from its header, where imagesize.get (what
 * files.image_size_hw calls) gives the same: 0 ok; 1 anything else (no such
 * file, not a regular file, another format, a JPEG with an Exif segment
 * (orientation), a damaged header, a size that is not positive): the caller
 * asks imagesize, whose answer and messages stay the only ones. */
static int image_hw_c(const char *path, int64_t *h, int64_t *w) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 1;
    struct stat st;
    unsigned char buf[65536];
    int res = 1;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) goto out;
    ssize_t n = pread(fd, buf, sizeof buf, 0);
    if (n < 0) goto out;
    if (n >= 26 && memcmp(buf, "\x89PNG\r\n\x1a\n", 8) == 0) {
        if (memcmp(buf + 12, "IHDR", 4) != 0) goto out;
        uint32_t ww = ((uint32_t)buf[16] << 24) | ((uint32_t)buf[17] << 16) | ((uint32_t)buf[18] << 8) | buf[19];
        uint32_t hh = ((uint32_t)buf[20] << 24) | ((uint32_t)buf[21] << 16) | ((uint32_t)buf[22] << 8) | buf[23];
        if (ww == 0 || hh == 0) goto out;
        *w = ww;
        *h = hh;
        res = 0;
        goto out;
    }
    if (n < 2 || buf[0] != 0xff || buf[1] != 0xd8) goto out;
    if (n >= 6 && (memcmp(buf, "GIF87a", 6) == 0 || memcmp(buf, "GIF89a", 6) == 0)) goto out;
    /* JPEG: imagesize walks the markers to SOS/EOI (it looks for an Exif orientation after the SOF);
     * the same walk here over the file read in 64 KiB windows */
    {
        off_t base = 0, pos = 2;
        int64_t sh = -1, sw = -1;
        for (;;) {
            /* the byte at file offset q, reading the next window when needed; -1 at the end */
#define BYTE_AT(q, dst)                                                                        \
    do {                                                                                       \
        if ((q) < base || (q) >= base + n) {                                                   \
            base = (q);                                                                        \
            n = pread(fd, buf, sizeof buf, base);                                              \
            if (n < 0) goto out;                                                               \
        }                                                                                      \
        (dst) = (q) < base + n ? (int)buf[(q) - base] : -1;                                    \
    } while (0)
            int b;
            BYTE_AT(pos, b);
            while (b != -1 && b != 0xff) { pos++; BYTE_AT(pos, b); }
            if (b == -1) break; /* the end of the file before SOS: imagesize stops there too */
            pos++;
            BYTE_AT(pos, b);
            while (b == 0xff) { pos++; BYTE_AT(pos, b); }
            if (b == -1) break;
            int m = b;
            pos++;
            if (m == 0xd9 || m == 0xda) break;
            if (m == 0x01 || (m >= 0xd0 && m <= 0xd7)) continue;
            int l0, l1;
            BYTE_AT(pos, l0);
            BYTE_AT(pos + 1, l1);
            if (l0 < 0 || l1 < 0) goto out;
            int seg = (l0 << 8) | l1;
            if (seg < 2) goto out;
            off_t ps = pos + 2;
            if (m == 0xe1) {
                unsigned char ex[6];
                int k;
                for (k = 0; k < 6; k++) {
                    int e;
                    BYTE_AT(ps + k, e);
                    if (e < 0) break;
                    ex[k] = (unsigned char)e;
                }
                if (seg - 2 >= 6 && k == 6 && memcmp(ex, "Exif\0\0", 6) == 0) goto out; /* orientation: imagesize's */
            } else if (m >= 0xc0 && m <= 0xcf && m != 0xc4 && m != 0xc8 && m != 0xcc) {
                int v[5];
                if (seg - 2 < 6) goto out;
                for (int k = 0; k < 5; k++) {
                    BYTE_AT(ps + 1 + k, v[k]);
                    if (v[k] < 0) goto out;
                }
                sh = (v[0] << 8) | v[1];
                sw = (v[2] << 8) | v[3];
            }
            pos = ps + seg - 2;
#undef BYTE_AT
        }
        if (sh > 0 && sw > 0) {
            *h = sh;
            *w = sw;
            res = 0;
        }
    }
out:
    close(fd);
    return res;
}

/* yolo_label_files(images, labels, num_classes, tolerance)
 *     -> (status, hw, nbox, cls, xyxy) bytes: uint8, int64 x2, int32, int64, float64 x4
 *
 * read_yolo's per-image work for the images whose header image_hw_c reads and
 * whose label file is "clean" as reader._clean_files defines it (every line
 * five plain numbers, a class in range, a positive size, inside the image
 * within the tolerance), without the GIL: the same doubles as its numpy
 * (strtod is correctly rounded as float() is; the same IEEE operations).
 * status 0: done here; 1: anything else (an image to size by imagesize, a
 * missing or unreadable label file, any line to report, an empty file, a
 * BOM), which the Python reader does as before. */
static PyObject *yolo_label_files(PyObject *self, PyObject *args) {
    PyObject *imgs, *labs;
    int k;
    double tol;
    if (!PyArg_ParseTuple(args, "O!O!id", &PyList_Type, &imgs, &PyList_Type, &labs, &k, &tol)) return NULL;
    Py_ssize_t nf = PyList_GET_SIZE(imgs);
    if (PyList_GET_SIZE(labs) != nf) {
        PyErr_SetString(PyExc_ValueError, "yolo_label_files: one label per image");
        return NULL;
    }
    PyObject *it = fs_tuple(imgs), *lt = it ? fs_tuple(labs) : NULL, *result = NULL;
    if (!it || !lt) goto done;
    {
        Buf status = {0}, hw = {0}, nbox = {0}, cls = {0}, boxes = {0}, data = {0};
        int nomem = 0;
        Py_BEGIN_ALLOW_THREADS
        for (Py_ssize_t i = 0; i < nf && !nomem; i++) {
            uint8_t stv = 1;
            int64_t hw2[2] = {0, 0};
            int32_t nb = 0;
            size_t cls0 = cls.len, box0 = boxes.len;
            if (image_hw_c(PyBytes_AS_STRING(PyTuple_GET_ITEM(it, i)), &hw2[0], &hw2[1]) == 0 &&
                read_whole(PyBytes_AS_STRING(PyTuple_GET_ITEM(lt, i)), &data) && data.len > 0) {
                const char *p = data.data, *end = data.data + data.len;
                double fw = (double)hw2[1], fh = (double)hw2[0];
                int ok = 1;
                while (p < end && ok) {
                    const char *le = p;
                    while (le < end && *le != '\n' && *le != '\r') le++;
                    const char *next = le;
                    if (le < end) {
                        if (*le == '\r') {
                            if (le + 1 < end && le[1] == '\n') next = le + 2;
                            else { ok = 0; break; } /* a lone CR: Python splits lines there too; left to it */
                        } else next = le + 1;
                    }
                    double v[5];
                    int nt = 0;
                    const char *q = p;
                    while (q < le && ok) {
                        while (q < le && (*q == ' ' || *q == '\t')) q++;
                        if (q >= le) break;
                        const char *ts = q;
                        while (q < le && *q != ' ' && *q != '\t') q++;
                        if (nt >= 5 || !plain_float(ts, q, &v[nt])) ok = 0;
                        nt++;
                    }
                    if (!ok || nt != 5) { ok = 0; break; }
                    double c = v[0], hx = v[3] / 2, hy = v[4] / 2;
                    double x1 = v[1] - hx, y1 = v[2] - hy, x2 = v[1] + hx, y2 = v[2] + hy;
                    if (!(isfinite(c) && isfinite(v[1]) && isfinite(v[2]) && isfinite(v[3]) && isfinite(v[4])) || !(c >= 0) ||
                        !(c < k) || c != floor(c) || !(v[3] > 0) || !(v[4] > 0) || !((x1 < y1 ? x1 : y1) >= -tol) ||
                        !((x2 > y2 ? x2 : y2) <= 1 + tol)) {
                        ok = 0;
                        break;
                    }
                    int64_t ci = (int64_t)c;
                    double bx[4] = {x1 * fw, y1 * fh, x2 * fw, y2 * fh};
                    if (!buf_push(&cls, &ci, sizeof ci) || !buf_push(&boxes, bx, sizeof bx)) { nomem = 1; break; }
                    nb++;
                    p = next;
                }
                if (nomem) break;
                if (ok && nb > 0) stv = 0;
            }
            if (stv) {
                cls.len = cls0;
                boxes.len = box0;
                nb = 0;
                hw2[0] = hw2[1] = 0;
            }
            if (!buf_push(&status, &stv, 1) || !buf_push(&hw, hw2, sizeof hw2) || !buf_push(&nbox, &nb, sizeof nb)) nomem = 1;
        }
        Py_END_ALLOW_THREADS
        if (nomem) {
            PyErr_NoMemory();
        } else {
#define BYTES(b) PyBytes_FromStringAndSize((b).data ? (b).data : "", (Py_ssize_t)(b).len)
            result = Py_BuildValue("(NNNNN)", BYTES(status), BYTES(hw), BYTES(nbox), BYTES(cls), BYTES(boxes));
#undef BYTES
        }
        free(status.data); free(hw.data); free(nbox.data); free(cls.data); free(boxes.data); free(data.data);
    }
done:
    Py_XDECREF(it);
    Py_XDECREF(lt);
    return result;
}

/* image_sizes(paths) -> (status uint8, hw int64 x2) bytes: image_hw_c per path
 * without the GIL (status 1: ask imagesize) */
/* the paths of a list as fs_tuple gives them, or NULL with a TypeError naming fn */
static PyObject *path_list(PyObject *arg, const char *fn) {
    if (!PyList_Check(arg)) {
        PyErr_Format(PyExc_TypeError, "%s: a list of paths", fn);
        return NULL;
    }
    return fs_tuple(arg);
}

static PyObject *image_sizes(PyObject *self, PyObject *arg) {
    PyObject *t = path_list(arg, "image_sizes");
    if (!t) return NULL;
    Py_ssize_t n = PyList_GET_SIZE(arg);
    uint8_t *st = malloc((size_t)n + 1);
    int64_t *hw = malloc(sizeof(int64_t) * 2 * ((size_t)n + 1));
    PyObject *result = NULL;
    if (!st || !hw) {
        PyErr_NoMemory();
    } else {
        Py_BEGIN_ALLOW_THREADS
        for (Py_ssize_t i = 0; i < n; i++) {
            hw[2 * i] = hw[2 * i + 1] = 0;
            st[i] = (uint8_t)image_hw_c(PyBytes_AS_STRING(PyTuple_GET_ITEM(t, i)), &hw[2 * i], &hw[2 * i + 1]);
        }
        Py_END_ALLOW_THREADS
        result = Py_BuildValue("(y#y#)", (const char *)st, n, (const char *)hw, (Py_ssize_t)(16 * n));
    }
    free(st);
    free(hw);
    Py_DECREF(t);
    return result;
}

/* num_texts(float64 bytes[, as_repr]) -> list of str: _build.num(v) of each
 * value (an integral value below 1e15 as an int, else repr: the shortest text
 * that reads back to the same double, Python's own routine); as_repr: repr(v)
 * of each (what json.dumps writes for a float) */
static PyObject *num_texts(PyObject *self, PyObject *args) {
    Py_buffer b;
    int as_repr = 0;
    if (!PyArg_ParseTuple(args, "y*|p", &b, &as_repr)) return NULL;
    Py_ssize_t n = b.len / (Py_ssize_t)sizeof(double);
    const double *v = (const double *)b.buf;
    PyObject *out = PyList_New(n);
    for (Py_ssize_t i = 0; out && i < n; i++) {
        double x = v[i];
        PyObject *s;
        char tmp[32];
        if (!as_repr && isfinite(x) && fabs(x) < 1e15 && x == (double)(long long)x) {
            int ln = snprintf(tmp, sizeof tmp, "%lld", (long long)x);
            s = PyUnicode_FromStringAndSize(tmp, ln);
        } else {
            char *r = PyOS_double_to_string(x, 'r', 0, Py_DTSF_ADD_DOT_0, NULL);
            s = r ? PyUnicode_FromString(r) : NULL;
            PyMem_Free(r);
        }
        if (!s) { Py_CLEAR(out); break; }
        PyList_SET_ITEM(out, i, s);
    }
    PyBuffer_Release(&b);
    return out;
}

/* yolo_texts(xyxy, cls, nbox, hw, decimals) -> (data, ends) bytes
 *
 * The YOLO txt text of many images at once, as lines.yolo_lines writes it
 * ("%d %.6f %.6f %.6f %.6f\n" of the class, centre and size over the image
 * size, the same IEEE operations; printf's %.*f is correctly rounded as
 * Python's format is): xyxy float64 x4 and cls int64 per box, nbox and hw
 * (int64, int64 x2) per image; ends[i]: where image i's text ends in data. */
static PyObject *yolo_texts(PyObject *self, PyObject *args) {
    Py_buffer bx, bc, bn, bh;
    int decimals;
    if (!PyArg_ParseTuple(args, "y*y*y*y*i", &bx, &bc, &bn, &bh, &decimals)) return NULL;
    PyObject *result = NULL;
    Py_ssize_t nb = bc.len / 8, ni = bn.len / 8;
    const double *xy = (const double *)bx.buf;
    const int64_t *cl = (const int64_t *)bc.buf, *nbox = (const int64_t *)bn.buf, *hw = (const int64_t *)bh.buf;
    int64_t total = 0;
    for (Py_ssize_t i = 0; i < ni; i++) total += nbox[i] < 0 ? -1 : nbox[i];
    if (decimals < 0 || decimals > 30 || bx.len != nb * 32 || bh.len != ni * 16 || total != nb) {
        PyErr_SetString(PyExc_ValueError, "yolo_texts: 4 corners and a class per box, a count and (h, w) per image, decimals 0..30");
        goto done;
    }
    {
        Buf data = {0}, ends = {0};
        int nomem = 0;
        Py_BEGIN_ALLOW_THREADS
        int64_t j = 0;
        for (Py_ssize_t i = 0; i < ni && !nomem; i++) {
            double fh = (double)hw[2 * i], fw = (double)hw[2 * i + 1];
            for (int64_t k = 0; k < nbox[i]; k++, j++) {
                const double *b = xy + 4 * j;
                char line[1600];
                int ln = yolo_line(line, (long long)cl[j], (b[0] + b[2]) / 2.0 / fw, (b[1] + b[3]) / 2.0 / fh, (b[2] - b[0]) / fw,
                                   (b[3] - b[1]) / fh, decimals);
                if (ln < 0 || ln >= (int)sizeof line || !buf_push(&data, line, (size_t)ln)) { nomem = 1; break; }
            }
            int64_t e = (int64_t)data.len;
            if (!nomem && !buf_push(&ends, &e, sizeof e)) nomem = 1;
        }
        Py_END_ALLOW_THREADS
        if (nomem) PyErr_SetString(PyExc_MemoryError, "yolo_texts: out of memory (or a coordinate too large to print)");
        else result = Py_BuildValue("(y#y#)", data.data ? data.data : "", (Py_ssize_t)data.len, ends.data ? ends.data : "",
                                    (Py_ssize_t)ends.len);
        free(data.data);
        free(ends.data);
    }
done:
    PyBuffer_Release(&bx);
    PyBuffer_Release(&bc);
    PyBuffer_Release(&bn);
    PyBuffer_Release(&bh);
    return result;
}

/* box_floats(values: list[, snap]) -> (float64 bytes, ok bytes)
 *
 * DatasetBuilder's per-coordinate work, for many at once: each value as
 * _build.finite() takes it on its first try (a float, an int, or a str as
 * float() reads it; not a bool), finite, then snapped as round(v, 9) is
 * (Python's own decimal rounding: the same digits, read back the same way;
 * an integral value is its own rounding); snap false: not rounded.  ok 0: anything else (another
 * type, a text float() refuses such as a decimal comma, NaN, inf), which the
 * caller's per-box code decides and reports. */
static PyObject *box_floats(PyObject *self, PyObject *args) {
    PyObject *arg;
    int snap = 1;
    if (!PyArg_ParseTuple(args, "O|p", &arg, &snap)) return NULL;
    if (!PyList_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "box_floats: a list");
        return NULL;
    }
    Py_ssize_t n = PyList_GET_SIZE(arg);
    double *v = malloc(sizeof(double) * ((size_t)n + 1));
    uint8_t *ok = malloc((size_t)n + 1);
    if (!v || !ok) {
        free(v);
        free(ok);
        return PyErr_NoMemory();
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *o = PyList_GET_ITEM(arg, i);
        double x = 0.0;
        int good = 0;
        if (PyFloat_CheckExact(o)) {
            x = PyFloat_AS_DOUBLE(o);
            good = 1;
        } else if (PyLong_CheckExact(o)) {
            x = PyLong_AsDouble(o);
            if (x == -1.0 && PyErr_Occurred()) PyErr_Clear();
            else good = 1;
        } else if (PyUnicode_CheckExact(o)) {
            PyObject *f = PyFloat_FromString(o);
            if (f) {
                x = PyFloat_AS_DOUBLE(f);
                Py_DECREF(f);
                good = 1;
            } else {
                PyErr_Clear();
            }
        }
        if (good && !isfinite(x)) good = 0;
        if (good && snap && !(fabs(x) < 4503599627370496.0 && x == floor(x))) {
            char *t = PyOS_double_to_string(x, 'f', 9, 0, NULL);
            if (!t) { free(v); free(ok); return NULL; }
            x = PyOS_string_to_double(t, NULL, NULL);
            PyMem_Free(t);
            if (x == -1.0 && PyErr_Occurred()) { free(v); free(ok); return NULL; }
        }
        v[i] = good ? x : 0.0;
        ok[i] = (uint8_t)good;
    }
    PyObject *r = Py_BuildValue("(y#y#)", (const char *)v, (Py_ssize_t)(n * 8), (const char *)ok, n);
    free(v);
    free(ok);
    return r;
}

/* read_files(paths) -> list of bytes (None for a file that cannot be read
 * whole: missing, not a regular file, over 64 MiB), read without the GIL */
static PyObject *read_files(PyObject *self, PyObject *arg) {
    PyObject *t = path_list(arg, "read_files");
    if (!t) return NULL;
    Py_ssize_t n = PyList_GET_SIZE(arg);
    Buf all = {0}, one = {0}, ends = {0};
    int nomem = 0;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n && !nomem; i++) {
        int64_t e = -1;
        if (read_whole(PyBytes_AS_STRING(PyTuple_GET_ITEM(t, i)), &one)) {
            if (!buf_push(&all, one.data ? one.data : "", one.len)) nomem = 1;
            e = (int64_t)all.len;
        }
        if (!buf_push(&ends, &e, sizeof e)) nomem = 1;
    }
    Py_END_ALLOW_THREADS
    Py_DECREF(t);
    PyObject *out = NULL;
    if (nomem) {
        PyErr_NoMemory();
    } else {
        out = PyList_New(n);
        const int64_t *e = (const int64_t *)ends.data;
        int64_t at = 0;
        for (Py_ssize_t i = 0; out && i < n; i++) {
            PyObject *o;
            if (e[i] < 0) {
                o = Py_None;
                Py_INCREF(o);
            } else {
                o = PyBytes_FromStringAndSize(all.data + at, (Py_ssize_t)(e[i] - at));
                at = e[i];
            }
            if (!o) { Py_CLEAR(out); break; }
            PyList_SET_ITEM(out, i, o);
        }
    }
    free(all.data);
    free(one.data);
    free(ends.data);
    return out;
}

/* csv_table(data: bytes, ncols: int, numeric: bytes) -> None | list
 *
 * The rows after the header line of a plain CSV file (no quote character, no
 * NUL, lines ending in LF or CRLF, blank lines skipped, every row ncols cells),
 * as columns: numeric[k] 1: float64 bytes (each cell a plain decimal number,
 * read as float() reads it), else a list of str (UTF-8).  Cells are stripped of
 * ASCII whitespace at their ends (as str.strip does; a cell that starts or ends
 * with other Unicode whitespace is left to Python).  None for anything else: the
 * caller reads the file with the csv module. */
static int uspace_at(const unsigned char *p, const unsigned char *e) { /* a Unicode space (UTF-8) starting at p */
    if (e - p >= 2 && p[0] == 0xC2 && (p[1] == 0x85 || p[1] == 0xA0)) return 1;
    if (e - p >= 3 && p[0] == 0xE1 && p[1] == 0x9A && p[2] == 0x80) return 1;
    if (e - p >= 3 && p[0] == 0xE2 && p[1] == 0x80 && ((p[2] >= 0x80 && p[2] <= 0x8A) || p[2] == 0xA8 || p[2] == 0xA9 || p[2] == 0xAF))
        return 1;
    if (e - p >= 3 && p[0] == 0xE2 && p[1] == 0x81 && p[2] == 0x9F) return 1;
    if (e - p >= 3 && p[0] == 0xE3 && p[1] == 0x80 && p[2] == 0x80) return 1;
    return 0;
}

static int uspace_before(const unsigned char *s, const unsigned char *e) { /* a Unicode space (UTF-8) ending at e */
    if (e - s >= 2 && uspace_at(e - 2, e)) return 1;
    if (e - s >= 3 && uspace_at(e - 3, e)) return 1;
    return 0;
}

static inline int ascii_space(unsigned char c) { return c == ' ' || (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x1F); }

static PyObject *csv_table(PyObject *self, PyObject *args) {
    Py_buffer b, nm;
    int ncols;
    if (!PyArg_ParseTuple(args, "y*iy*", &b, &ncols, &nm)) return NULL;
    PyObject *result = NULL, **cols = NULL;
    Buf *nums = NULL;
    if (ncols <= 0 || ncols > 64 || nm.len != ncols) {
        PyErr_SetString(PyExc_ValueError, "csv_table: 1..64 columns, one numeric flag each");
        goto done;
    }
    const unsigned char *p = (const unsigned char *)b.buf, *end = p + b.len;
    const unsigned char *isnum = (const unsigned char *)nm.buf;
    if (memchr(p, '"', (size_t)b.len) || memchr(p, 0, (size_t)b.len)) goto plain_none;
    if (end - p >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF) p += 3;
    while (p < end && *p != '\n') p++; /* the header line */
    if (p < end) p++;
    cols = calloc((size_t)ncols, sizeof(PyObject *));
    nums = calloc((size_t)ncols, sizeof(Buf));
    if (!cols || !nums) { PyErr_NoMemory(); goto done; }
    for (int k = 0; k < ncols; k++)
        if (!isnum[k] && !(cols[k] = PyList_New(0))) goto done;
    while (p < end) {
        const unsigned char *le = memchr(p, '\n', (size_t)(end - p));
        const unsigned char *next = le ? le + 1 : end;
        if (!le) le = end;
        if (le > p && le[-1] == '\r') le--;
        if (memchr(p, '\r', (size_t)(le - p))) goto plain_none; /* a lone CR: the csv module's line end */
        if (le == p) { p = next; continue; }
        const unsigned char *c = p;
        for (int k = 0; k < ncols; k++) {
            const unsigned char *ce = memchr(c, ',', (size_t)(le - c));
            if (!ce) ce = le;
            if (k == ncols - 1 ? ce != le : ce == le) goto plain_none; /* not ncols cells */
            const unsigned char *a = c, *z = ce;
            while (a < z && ascii_space(*a)) a++;
            while (z > a && ascii_space(z[-1])) z--;
            if ((a < z && uspace_at(a, z)) || (a < z && uspace_before(a, z))) goto plain_none;
            if (isnum[k]) {
                double v;
                if (!plain_float((const char *)a, (const char *)z, &v)) goto plain_none;
                if (!buf_push(&nums[k], &v, sizeof v)) { PyErr_NoMemory(); goto done; }
            } else {
                PyObject *t = PyUnicode_DecodeUTF8((const char *)a, z - a, NULL);
                if (!t) { PyErr_Clear(); goto plain_none; }
                int r = PyList_Append(cols[k], t);
                Py_DECREF(t);
                if (r) goto done;
            }
            c = ce + 1;
        }
        p = next;
    }
    result = PyList_New(ncols);
    for (int k = 0; result && k < ncols; k++) {
        PyObject *o = isnum[k] ? PyBytes_FromStringAndSize(nums[k].data ? nums[k].data : "", (Py_ssize_t)nums[k].len) : cols[k];
        if (!isnum[k]) cols[k] = NULL;
        if (!o) { Py_CLEAR(result); break; }
        PyList_SET_ITEM(result, k, o);
    }
    goto done;
plain_none:
    result = Py_None;
    Py_INCREF(result);
done:
    if (cols)
        for (int k = 0; k < ncols; k++) Py_XDECREF(cols[k]);
    if (nums)
        for (int k = 0; k < ncols; k++) free(nums[k].data);
    free(cols);
    free(nums);
    PyBuffer_Release(&b);
    PyBuffer_Release(&nm);
    return result;
}

/* kitti_plain(files: list of bytes) -> None | (counts int32, labels list, values float64 x15)
 *
 * KITTI label files read as kitti.read_kitti reads them (UTF-8 with an optional
 * BOM, lines, whitespace-separated fields, blank lines skipped), for files
 * where every line is a type and 14 or 15 plain decimal numbers: per file its
 * number of objects, per object its type and its 14 or 15 numbers (the 15th
 * NaN when absent).  None for anything else (a line of another length, a field that is
 * not a plain number, a line or field separator Python's splitlines/split
 * would see and this does not: \v \f \x1c-\x1e, non-ASCII whitespace, invalid
 * UTF-8), which the per-line reader then reports. */
static PyObject *kitti_plain(PyObject *self, PyObject *arg) {
    if (!PyList_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "kitti_plain: a list of bytes");
        return NULL;
    }
    Py_ssize_t nf = PyList_GET_SIZE(arg);
    Buf counts = {0}, vals = {0};
    PyObject *labels = PyList_New(0), *result = NULL;
    if (!labels) return NULL;
    for (Py_ssize_t f = 0; f < nf; f++) {
        PyObject *o = PyList_GET_ITEM(arg, f);
        if (!PyBytes_Check(o)) goto plain_none;
        const unsigned char *p = (const unsigned char *)PyBytes_AS_STRING(o), *end = p + PyBytes_GET_SIZE(o);
        if (end - p >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF) p += 3;
        int32_t n = 0;
        while (p < end) {
            const unsigned char *le = p;
            while (le < end && *le != '\n' && *le != '\r') {
                unsigned char c = *le;
                if (c == 0x0B || c == 0x0C || (c >= 0x1C && c <= 0x1E) || c == 0) goto plain_none;
                le++;
            }
            const unsigned char *q = p;
            int nt = 0;
            double v[16];
            while (q < le) {
                while (q < le && (*q == ' ' || *q == '\t' || *q == 0x1F)) q++;
                if (q >= le) break;
                const unsigned char *ts = q;
                while (q < le && *q != ' ' && *q != '\t' && *q != 0x1F) q++;
                if (nt >= 16) goto plain_none;
                if (nt == 0) {
                    for (const unsigned char *u = ts; u < q; u++)
                        if (*u >= 0x80 && uspace_at(u, q)) goto plain_none;
                    PyObject *t = PyUnicode_DecodeUTF8((const char *)ts, q - ts, NULL);
                    if (!t) { PyErr_Clear(); goto plain_none; }
                    int r = PyList_Append(labels, t);
                    Py_DECREF(t);
                    if (r) goto fail;
                } else if (!plain_float((const char *)ts, (const char *)q, &v[nt - 1])) {
                    goto plain_none;
                }
                nt++;
            }
            if (nt) {
                if (nt != 15 && nt != 16) goto plain_none;
                if (nt == 15) v[14] = NAN;
                if (!buf_push(&vals, v, 15 * sizeof(double))) { PyErr_NoMemory(); goto fail; }
                n++;
            }
            p = le < end ? le + 1 : end;
        }
        if (!buf_push(&counts, &n, sizeof n)) { PyErr_NoMemory(); goto fail; }
    }
    result = Py_BuildValue("(y#Oy#)", counts.data ? counts.data : "", (Py_ssize_t)counts.len, labels, vals.data ? vals.data : "",
                           (Py_ssize_t)vals.len);
    goto fail;
plain_none:
    result = Py_None;
    Py_INCREF(result);
fail:
    Py_DECREF(labels);
    free(counts.data);
    free(vals.data);
    return result;
}

/* cvat_plain(data: bytes) -> None | (meta_start, meta_end, names, widths, heights, counts, labels, xyxy)
 *
 * A CVAT for images 1.1 file in its plainest form, as lxml and read_cvat read
 * it: the usual XML declaration, <annotations> holding <version>, one <meta>
 * (its span returned for lxml to read: the declared labels) and <image>
 * elements whose children are <box/> elements with numbers for corners and
 * CVAT's default occluded/z_order/source, no group_id, no rotation, no
 * <attribute> children.  Attribute values may use XML's five entities and
 * character references.  Per image its name, width and height (str or None) and
 * number of boxes; per box its label and corners (float64 x4).  None for
 * anything else (comments, CDATA, DOCTYPE, other elements or shapes, raw tabs
 * or line ends in a value, duplicate attributes...): read_cvat's other paths
 * then read the file with lxml. */
typedef struct {
    const char *name;
    Py_ssize_t nlen;
    const char *val; /* raw, between the quotes */
    Py_ssize_t vlen;
} XAttr;

static int xml_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

/* the attributes of a start tag from i (after its name) to '>' or '/>'; returns the index after the tag,
 * -1 when not plain; *empty: the tag ends in "/>" */
static Py_ssize_t xml_attrs(const char *d, Py_ssize_t n, Py_ssize_t i, XAttr *at, int *nat, int max, int *empty) {
    *nat = 0;
    for (;;) {
        int sp = 0;
        while (i < n && xml_ws(d[i])) { i++; sp = 1; }
        if (i >= n) return -1;
        if (d[i] == '>') { *empty = 0; return i + 1; }
        if (d[i] == '/') {
            if (i + 1 < n && d[i + 1] == '>') { *empty = 1; return i + 2; }
            return -1;
        }
        if (!sp || !name_start(d[i]) || *nat >= max) return -1;
        Py_ssize_t s0 = i;
        while (i < n && name_char(d[i])) i++;
        Py_ssize_t nl = i - s0;
        while (i < n && xml_ws(d[i])) i++;
        if (i >= n || d[i] != '=') return -1;
        i++;
        while (i < n && xml_ws(d[i])) i++;
        if (i >= n || (d[i] != '"' && d[i] != '\'')) return -1;
        char q = d[i++];
        Py_ssize_t v0 = i;
        while (i < n && d[i] != q) {
            char c = d[i];
            if (c == '<' || c == '\t' || c == '\n' || c == '\r') return -1;
            i++;
        }
        if (i >= n) return -1;
        for (int k = 0; k < *nat; k++)
            if (at[k].nlen == nl && memcmp(at[k].name, d + s0, (size_t)nl) == 0) return -1;
        at[*nat].name = d + s0;
        at[*nat].nlen = nl;
        at[*nat].val = d + v0;
        at[*nat].vlen = i - v0;
        (*nat)++;
        i++;
    }
}

static const XAttr *xml_get(const XAttr *at, int nat, const char *name) {
    size_t nl = strlen(name);
    for (int k = 0; k < nat; k++)
        if ((size_t)at[k].nlen == nl && memcmp(at[k].name, name, nl) == 0) return &at[k];
    return NULL;
}

/* an attribute value with its entities and character references replaced, into b (NUL-terminated);
 * 0 when one is not XML's or names a character XML does not allow */
static int xml_value(const XAttr *a, Buf *b) {
    b->len = 0;
    const char *p = a->val, *e = a->val + a->vlen;
    while (p < e) {
        unsigned char c = (unsigned char)*p;
        if (c < 0x20) return 0;
        if (c != '&') {
            if (!buf_push(b, p, 1)) return 0;
            p++;
            continue;
        }
        const char *semi = memchr(p, ';', (size_t)(e - p));
        if (!semi) return 0;
        Py_ssize_t l = semi - p + 1;
        const char *rep = NULL;
        if (l == 5 && !memcmp(p, "&amp;", 5)) rep = "&";
        else if (l == 4 && !memcmp(p, "&lt;", 4)) rep = "<";
        else if (l == 4 && !memcmp(p, "&gt;", 4)) rep = ">";
        else if (l == 6 && !memcmp(p, "&quot;", 6)) rep = "\"";
        else if (l == 6 && !memcmp(p, "&apos;", 6)) rep = "'";
        if (rep) {
            if (!buf_push(b, rep, 1)) return 0;
        } else if (l >= 4 && p[1] == '#') {
            unsigned long cp = 0;
            const char *q = p + 2;
            int hex = *q == 'x';
            if (hex) q++;
            if (q == semi) return 0;
            for (; q < semi; q++) {
                int dv = (*q >= '0' && *q <= '9') ? *q - '0' : (hex && *q >= 'a' && *q <= 'f') ? *q - 'a' + 10
                       : (hex && *q >= 'A' && *q <= 'F') ? *q - 'A' + 10 : -1;
                if (dv < 0) return 0;
                cp = cp * (hex ? 16 : 10) + (unsigned long)dv;
                if (cp > 0x10FFFF) return 0;
            }
            if ((cp < 0x20 && cp != 9 && cp != 10 && cp != 13) || (cp >= 0xD800 && cp <= 0xDFFF) || cp == 0xFFFE || cp == 0xFFFF) return 0;
            char u[4];
            int ul;
            if (cp < 0x80) { u[0] = (char)cp; ul = 1; }
            else if (cp < 0x800) { u[0] = (char)(0xC0 | (cp >> 6)); u[1] = (char)(0x80 | (cp & 0x3F)); ul = 2; }
            else if (cp < 0x10000) { u[0] = (char)(0xE0 | (cp >> 12)); u[1] = (char)(0x80 | ((cp >> 6) & 0x3F)); u[2] = (char)(0x80 | (cp & 0x3F)); ul = 3; }
            else { u[0] = (char)(0xF0 | (cp >> 18)); u[1] = (char)(0x80 | ((cp >> 12) & 0x3F)); u[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); u[3] = (char)(0x80 | (cp & 0x3F)); ul = 4; }
            if (!buf_push(b, u, (size_t)ul)) return 0;
        } else {
            return 0;
        }
        p = semi + 1;
    }
    return buf_push(b, "", 1) ? (b->len--, 1) : 0;
}

static PyObject *xml_str(const XAttr *a, Buf *b) { /* the value as str, NULL (no error set) when not plain */
    if (!xml_value(a, b)) return NULL;
    PyObject *o = PyUnicode_DecodeUTF8(b->data ? b->data : "", (Py_ssize_t)b->len, NULL);
    if (!o) PyErr_Clear();
    return o;
}

static int xml_is(const XAttr *a, Buf *b, const char *const *ok) { /* absent, or one of ok */
    if (!a) return 1;
    if (!xml_value(a, b)) return 0;
    for (int k = 0; ok[k]; k++)
        if (b->len == strlen(ok[k]) && !memcmp(b->data, ok[k], b->len)) return 1;
    return 0;
}

static Py_ssize_t xml_skip_ws(const char *d, Py_ssize_t n, Py_ssize_t i) {
    while (i < n && xml_ws(d[i])) i++;
    return i;
}

static int xml_tag(const char *d, Py_ssize_t n, Py_ssize_t i, const char *tag) { /* "<tag" then a space, '>' or '/' */
    size_t l = strlen(tag);
    return (size_t)(n - i) > l + 1 && d[i] == '<' && !memcmp(d + i + 1, tag, l) &&
           (xml_ws(d[i + 1 + l]) || d[i + 1 + l] == '>' || d[i + 1 + l] == '/');
}

static PyObject *cvat_plain(PyObject *self, PyObject *arg) {
    Py_buffer bb;
    if (PyObject_GetBuffer(arg, &bb, PyBUF_SIMPLE) != 0) return NULL;
    const char *d = (const char *)bb.buf;
    Py_ssize_t n = bb.len, i = 0, meta0 = -1, meta1 = -1;
    PyObject *names = PyList_New(0), *widths = PyList_New(0), *heights = PyList_New(0), *labels = PyList_New(0), *result = NULL;
    Buf counts = {0}, xy = {0}, v = {0};
    XAttr at[24];
    int nat, empty;
    static const char *const zero[] = {"0", NULL}, *const manual[] = {"manual", NULL}, *const norot[] = {"0", "0.0", "0.00", NULL};
    if (!names || !widths || !heights || !labels) goto fail;
    for (Py_ssize_t k = 0; k < n; k++) {
        unsigned char c = (unsigned char)d[k];
        if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') goto plain_none;
    }
    if (n >= 3 && !memcmp(d, "\xEF\xBB\xBF", 3)) i = 3;
    if (n - i >= 5 && !memcmp(d + i, "<?xml", 5)) {
        static const char *decls[] = {"<?xml version=\"1.0\"?>", "<?xml version=\"1.0\" encoding=\"utf-8\"?>",
                                      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>", "<?xml version='1.0'?>",
                                      "<?xml version='1.0' encoding='utf-8'?>", "<?xml version='1.0' encoding='UTF-8'?>", NULL};
        int ok = 0;
        for (int k = 0; decls[k] && !ok; k++) {
            size_t dl = strlen(decls[k]);
            if ((size_t)(n - i) >= dl && !memcmp(d + i, decls[k], dl)) { i += (Py_ssize_t)dl; ok = 1; }
        }
        if (!ok) goto plain_none;
    }
    i = xml_skip_ws(d, n, i);
    if (n - i < 13 || memcmp(d + i, "<annotations>", 13)) goto plain_none;
    i += 13;
    for (;;) {
        i = xml_skip_ws(d, n, i);
        if (i >= n) goto plain_none;
        if (n - i >= 14 && !memcmp(d + i, "</annotations>", 14)) {
            i = xml_skip_ws(d, n, i + 14);
            if (i != n) goto plain_none;
            break;
        }
        if (n - i >= 9 && !memcmp(d + i, "<version>", 9)) {
            Py_ssize_t k = i + 9;
            while (k < n && d[k] != '<' && d[k] != '&') k++;
            if (n - k < 10 || memcmp(d + k, "</version>", 10)) goto plain_none;
            i = k + 10;
            continue;
        }
        if (n - i >= 6 && !memcmp(d + i, "<meta>", 6) && meta0 < 0) {
            Py_ssize_t k = find(d, n, i, "</meta>");
            if (k < 0) goto plain_none;
            meta0 = i;
            meta1 = k + 7;
            i = meta1;
            continue;
        }
        if (!xml_tag(d, n, i, "image")) goto plain_none;
        i = xml_attrs(d, n, i + 6, at, &nat, 24, &empty);
        if (i < 0) goto plain_none;
        const XAttr *an = xml_get(at, nat, "name"), *aw = xml_get(at, nat, "width"), *ah = xml_get(at, nat, "height");
        if (!an) goto plain_none;
        PyObject *o = xml_str(an, &v);
        if (!o) goto plain_none;
        int r = PyList_Append(names, o);
        Py_DECREF(o);
        if (r) goto fail;
        const XAttr *wh[2] = {aw, ah};
        PyObject *lists[2] = {widths, heights};
        for (int k = 0; k < 2; k++) {
            if (wh[k]) {
                o = xml_str(wh[k], &v);
                if (!o) goto plain_none;
            } else {
                o = Py_None;
                Py_INCREF(o);
            }
            r = PyList_Append(lists[k], o);
            Py_DECREF(o);
            if (r) goto fail;
        }
        int32_t nb = 0;
        while (!empty) {
            i = xml_skip_ws(d, n, i);
            if (n - i >= 8 && !memcmp(d + i, "</image>", 8)) { i += 8; break; }
            if (!xml_tag(d, n, i, "box")) goto plain_none;
            int bempty;
            i = xml_attrs(d, n, i + 4, at, &nat, 24, &bempty);
            if (i < 0) goto plain_none;
            if (!bempty) { /* <box ...></box> with nothing but space between */
                i = xml_skip_ws(d, n, i);
                if (n - i < 6 || memcmp(d + i, "</box>", 6)) goto plain_none;
                i += 6;
            }
            if (!xml_is(xml_get(at, nat, "occluded"), &v, zero) || !xml_is(xml_get(at, nat, "z_order"), &v, zero) ||
                !xml_is(xml_get(at, nat, "source"), &v, manual) || xml_get(at, nat, "group_id") ||
                !xml_is(xml_get(at, nat, "rotation"), &v, norot))
                goto plain_none;
            const XAttr *al = xml_get(at, nat, "label");
            if (!al) goto plain_none;
            o = xml_str(al, &v);
            if (!o) goto plain_none;
            r = PyList_Append(labels, o);
            Py_DECREF(o);
            if (r) goto fail;
            static const char *corner[4] = {"xtl", "ytl", "xbr", "ybr"};
            double c4[4];
            for (int k = 0; k < 4; k++) {
                const XAttr *ac = xml_get(at, nat, corner[k]);
                if (!ac || !xml_value(ac, &v) || !plain_float(v.data, v.data + v.len, &c4[k])) goto plain_none;
            }
            if (!buf_push(&xy, c4, sizeof c4)) { PyErr_NoMemory(); goto fail; }
            nb++;
        }
        if (!buf_push(&counts, &nb, sizeof nb)) { PyErr_NoMemory(); goto fail; }
    }
    if (meta0 < 0) goto plain_none;
    result = Py_BuildValue("(nnOOOy#Oy#)", meta0, meta1, names, widths, heights, counts.data ? counts.data : "",
                           (Py_ssize_t)counts.len, labels, xy.data ? xy.data : "", (Py_ssize_t)xy.len);
    goto fail;
plain_none:
    if (!PyErr_Occurred()) {
        result = Py_None;
        Py_INCREF(result);
    }
fail:
    Py_XDECREF(names);
    Py_XDECREF(widths);
    Py_XDECREF(heights);
    Py_XDECREF(labels);
    free(counts.data);
    free(xy.data);
    free(v.data);
    PyBuffer_Release(&bb);
    return result;
}

/* ------------------------------------------------------------------ LabelMe */

static int utf8_valid(const unsigned char *p, const unsigned char *e) {
    while (p < e) {
        unsigned char c = *p;
        if (c < 0x80) { p++; continue; }
        int n = (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2 : (c & 0xF8) == 0xF0 ? 3 : -1;
        if (n < 0 || e - p <= n) return 0;
        uint32_t cp = c & (0x3F >> n);
        for (int k = 1; k <= n; k++) {
            if ((p[k] & 0xC0) != 0x80) return 0;
            cp = (cp << 6) | (p[k] & 0x3F);
        }
        if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        p += n + 1;
    }
    return 1;
}

/* a JSON string at c->p: its raw content span; *esc set when it has escapes (every escape checked) */
static int json_span(Cur *c, const char **s, Py_ssize_t *n, int *esc) {
    const char *q = c->p + 1;
    *esc = 0;
    if (!skip_string(c, esc)) return 0;
    *s = q;
    *n = c->p - 1 - q;
    return 1;
}

static int json_lit(Cur *c, const char *lit) {
    size_t n = strlen(lit);
    if ((size_t)(c->end - c->p) >= n && !memcmp(c->p, lit, n)) { c->p += n; return 1; }
    return 0;
}

static int span_is(const char *s, Py_ssize_t n, const char *lit) { return (size_t)n == strlen(lit) && !memcmp(s, lit, (size_t)n); }

/* one shape object: its label span and the two points; 1 ok, 0 not plain */
static int labelme_shape(Cur *c, const char **ls, Py_ssize_t *ln, double pt[4]) {
    skip_ws(c);
    if (c->p >= c->end || *c->p != '{') return 0;
    c->p++;
    int seen = 0; /* bits: label, points, shape_type, group_id, description, flags */
    skip_ws(c);
    if (c->p < c->end && *c->p == '}') return 0;
    for (;;) {
        const char *k;
        Py_ssize_t kn;
        int esc;
        skip_ws(c);
        if (!json_span(c, &k, &kn, &esc) || esc) return 0;
        skip_ws(c);
        if (c->p >= c->end || *c->p++ != ':') return 0;
        skip_ws(c);
        int bit = span_is(k, kn, "label") ? 1 : span_is(k, kn, "points") ? 2 : span_is(k, kn, "shape_type") ? 4
                : span_is(k, kn, "group_id") ? 8 : span_is(k, kn, "description") ? 16 : span_is(k, kn, "flags") ? 32 : 0;
        if (bit & seen) return 0;
        seen |= bit;
        if (bit == 1) {
            if (!json_span(c, ls, ln, &esc) || esc) return 0;
        } else if (bit == 2) {
            if (c->p >= c->end || *c->p++ != '[') return 0;
            for (int p = 0; p < 2; p++) {
                skip_ws(c);
                if (c->p >= c->end || *c->p++ != '[') return 0;
                for (int q = 0; q < 2; q++) {
                    skip_ws(c);
                    int64_t iv;
                    int isint;
                    if (!parse_number(c, &pt[2 * p + q], &iv, &isint)) return 0;
                    skip_ws(c);
                    if (c->p >= c->end || *c->p++ != (q ? ']' : ',')) return 0;
                }
                skip_ws(c);
                if (c->p >= c->end || *c->p++ != (p ? ']' : ',')) return 0;
            }
        } else if (bit == 4) {
            const char *v;
            Py_ssize_t vn;
            if (!json_span(c, &v, &vn, &esc) || esc || !span_is(v, vn, "rectangle")) return 0;
        } else if (bit == 8) {
            if (!json_lit(c, "null")) return 0;
        } else if (bit == 16) {
            const char *v;
            Py_ssize_t vn;
            if (!json_span(c, &v, &vn, &esc) || vn != 0) return 0;
        } else if (bit == 32) {
            if (c->p >= c->end || *c->p++ != '{') return 0;
            skip_ws(c);
            if (c->p >= c->end || *c->p++ != '}') return 0;
        } else if (!skip_value(c, 1)) {
            return 0;
        }
        skip_ws(c);
        if (c->p >= c->end) return 0;
        if (*c->p == ',') { c->p++; continue; }
        if (*c->p == '}') { c->p++; break; }
        return 0;
    }
    return (seen & 7) == 7;
}

/* labelme_plain(files: list of bytes) -> None | (paths, heights, widths, counts, labels, points)
 *
 * LabelMe files as orjson and read_labelme read them, where each is one JSON
 * object (UTF-8, no BOM, valid JSON, escapes checked) whose "shapes" are
 * rectangles of two [x, y] points with a plain label and no group_id, flags or
 * description, with an integer imageHeight and imageWidth and an imagePath
 * that is a string (no escapes) or null: per file its imagePath (str or
 * None), size and number of shapes; per shape its label and points (float64
 * x4: x1 y1 x2 y2 as written).  None for anything else (the Python readers
 * then read every file). */
static PyObject *labelme_plain(PyObject *self, PyObject *arg) {
    if (!PyList_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "labelme_plain: a list of bytes");
        return NULL;
    }
    Py_ssize_t nf = PyList_GET_SIZE(arg);
    PyObject *paths = PyList_New(0), *labels = PyList_New(0), *result = NULL;
    Buf hw = {0}, counts = {0}, pts = {0};
    if (!paths || !labels) goto fail;
    for (Py_ssize_t f = 0; f < nf; f++) {
        PyObject *o = PyList_GET_ITEM(arg, f);
        if (!PyBytes_Check(o)) goto plain_none;
        Cur c = {PyBytes_AS_STRING(o), PyBytes_AS_STRING(o) + PyBytes_GET_SIZE(o)};
        if (!utf8_valid((const unsigned char *)c.p, (const unsigned char *)c.end)) goto plain_none;
        skip_ws(&c);
        if (c.p >= c.end || *c.p++ != '{') goto plain_none;
        int seen = 0;
        int64_t h = 0, w = 0;
        int32_t ns = 0;
        PyObject *ip = NULL;
        skip_ws(&c);
        if (c.p < c.end && *c.p == '}') goto plain_none;
        for (;;) {
            const char *k;
            Py_ssize_t kn;
            int esc;
            skip_ws(&c);
            if (!json_span(&c, &k, &kn, &esc) || esc) { Py_XDECREF(ip); goto plain_none; }
            skip_ws(&c);
            if (c.p >= c.end || *c.p++ != ':') { Py_XDECREF(ip); goto plain_none; }
            skip_ws(&c);
            int bit = span_is(k, kn, "shapes") ? 1 : span_is(k, kn, "imagePath") ? 2 : span_is(k, kn, "imageHeight") ? 4
                    : span_is(k, kn, "imageWidth") ? 8 : 0;
            if (bit & seen) { Py_XDECREF(ip); goto plain_none; }
            seen |= bit;
            int ok = 1;
            if (bit == 1) {
                if (c.p >= c.end || *c.p++ != '[') ok = 0;
                skip_ws(&c);
                if (ok && c.p < c.end && *c.p == ']') {
                    c.p++;
                } else {
                    while (ok) {
                        const char *ls = NULL;
                        Py_ssize_t lnn = 0;
                        double pt[4];
                        if (!labelme_shape(&c, &ls, &lnn, pt)) { ok = 0; break; }
                        PyObject *t = PyUnicode_DecodeUTF8(ls, lnn, NULL);
                        if (!t || PyList_Append(labels, t)) { Py_XDECREF(t); Py_XDECREF(ip); goto fail; }
                        Py_DECREF(t);
                        if (!buf_push(&pts, pt, sizeof pt)) { PyErr_NoMemory(); Py_XDECREF(ip); goto fail; }
                        ns++;
                        skip_ws(&c);
                        if (c.p < c.end && *c.p == ',') { c.p++; continue; }
                        if (c.p < c.end && *c.p == ']') { c.p++; break; }
                        ok = 0;
                    }
                }
            } else if (bit == 2) {
                const char *v;
                Py_ssize_t vn;
                if (json_lit(&c, "null")) {
                    Py_XDECREF(ip);
                    ip = Py_None;
                    Py_INCREF(ip);
                } else if (json_span(&c, &v, &vn, &esc) && !esc) {
                    Py_XDECREF(ip);
                    ip = PyUnicode_DecodeUTF8(v, vn, NULL);
                    if (!ip) goto fail;
                } else {
                    ok = 0;
                }
            } else if (bit == 4 || bit == 8) {
                double dv;
                int64_t iv;
                int isint;
                if (!parse_number(&c, &dv, &iv, &isint) || !isint || iv <= 0 || iv >= ((int64_t)1 << 31)) ok = 0;
                else if (bit == 4) h = iv;
                else w = iv;
            } else if (!skip_value(&c, 1)) {
                ok = 0;
            }
            if (!ok) { Py_XDECREF(ip); goto plain_none; }
            skip_ws(&c);
            if (c.p < c.end && *c.p == ',') { c.p++; continue; }
            if (c.p < c.end && *c.p == '}') { c.p++; break; }
            Py_XDECREF(ip);
            goto plain_none;
        }
        skip_ws(&c);
        if (c.p != c.end || (seen & 13) != 13) { Py_XDECREF(ip); goto plain_none; }
        if (!ip) {
            ip = Py_None;
            Py_INCREF(ip);
        }
        int r = PyList_Append(paths, ip);
        Py_DECREF(ip);
        if (r) goto fail;
        int64_t hw2[2] = {h, w};
        if (!buf_push(&hw, hw2, sizeof hw2) || !buf_push(&counts, &ns, sizeof ns)) { PyErr_NoMemory(); goto fail; }
    }
    result = Py_BuildValue("(Oy#y#Oy#)", paths, hw.data ? hw.data : "", (Py_ssize_t)hw.len, counts.data ? counts.data : "",
                           (Py_ssize_t)counts.len, labels, pts.data ? pts.data : "", (Py_ssize_t)pts.len);
    goto fail;
plain_none:
    if (!PyErr_Occurred()) {
        result = Py_None;
        Py_INCREF(result);
    }
fail:
    Py_XDECREF(paths);
    Py_XDECREF(labels);
    free(hw.data);
    free(counts.data);
    free(pts.data);
    return result;
}

/* num_rows(values: float64 bytes, parts: list of k + 1 str[, as_repr]) -> list of str
 *
 * One text per row of k values: parts[0] + num(v0) + parts[1] + ... + num(vk-1) +
 * parts[k], each number as num_texts writes it (writers fill a row's template
 * at once instead of per value). */
static PyObject *num_rows(PyObject *self, PyObject *args) {
    Py_buffer b;
    PyObject *parts;
    int as_repr = 0;
    if (!PyArg_ParseTuple(args, "y*O!|p", &b, &PyList_Type, &parts, &as_repr)) return NULL;
    Py_ssize_t k = PyList_GET_SIZE(parts) - 1, nv = b.len / (Py_ssize_t)sizeof(double);
    PyObject *out = NULL;
    const char *pt[17];
    Py_ssize_t pl[17];
    if (k < 1 || k > 16 || nv % k) {
        PyErr_SetString(PyExc_ValueError, "num_rows: 1..16 values per row, k + 1 parts");
        goto done;
    }
    for (Py_ssize_t j = 0; j <= k; j++) {
        PyObject *o = PyList_GET_ITEM(parts, j);
        if (!PyUnicode_Check(o) || !(pt[j] = PyUnicode_AsUTF8AndSize(o, &pl[j]))) {
            if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "num_rows: parts are str");
            goto done;
        }
    }
    const double *v = (const double *)b.buf;
    Py_ssize_t rows = nv / k;
    out = PyList_New(rows);
    Buf line = {0};
    for (Py_ssize_t r = 0; out && r < rows; r++) {
        line.len = 0;
        int ok = 1;
        for (Py_ssize_t j = 0; j < k && ok; j++) {
            ok = buf_push(&line, pt[j], (size_t)pl[j]);
            double x = v[r * k + j];
            char tmp[40];
            if (ok && !as_repr && isfinite(x) && fabs(x) < 1e15 && x == (double)(long long)x) {
                int tl = snprintf(tmp, sizeof tmp, "%lld", (long long)x);
                ok = buf_push(&line, tmp, (size_t)tl);
            } else if (ok) {
                char *t = PyOS_double_to_string(x, 'r', 0, Py_DTSF_ADD_DOT_0, NULL);
                ok = t && buf_push(&line, t, strlen(t));
                PyMem_Free(t);
            }
        }
        if (ok) ok = buf_push(&line, pt[k], (size_t)pl[k]);
        PyObject *o = ok ? PyUnicode_DecodeUTF8(line.data, (Py_ssize_t)line.len, NULL) : NULL;
        if (!o) {
            if (!PyErr_Occurred()) PyErr_NoMemory();
            Py_CLEAR(out);
            break;
        }
        PyList_SET_ITEM(out, r, o);
    }
    free(line.data);
done:
    PyBuffer_Release(&b);
    return out;
}

static PyMethodDef methods[] = {
    {"parse_coco_results", parse_coco_results, METH_O, "COCO results JSON bytes -> (img, cat, bbox, score, named) buffers, or None"},
    {"parse_voc_plain", parse_voc_plain, METH_O, "a plain VOC XML file -> (filename, (h, w), names, boxes, difficult), or None"},
    {"voc_yolo_files", voc_yolo_files, METH_VARARGS, "VOC XML files -> YOLO txt files, the plain and clean ones (see the source)"},
    {"write_files", write_files, METH_VARARGS, "write the texts voc_yolo_files returned (see the source)"},
    {"yolo_label_files", yolo_label_files, METH_VARARGS, "read_yolo's clean images and label files (see the source)"},
    {"image_sizes", image_sizes, METH_O, "(h, w) of PNG/JPEG headers where imagesize gives the same (see the source)"},
    {"labelme_plain", labelme_plain, METH_O, "plain LabelMe files' images and rectangles (see the source)"},
    {"cvat_plain", cvat_plain, METH_O, "a plain CVAT for images file's images and boxes (see the source)"},
    {"kitti_plain", kitti_plain, METH_O, "plain KITTI label files' objects (see the source)"},
    {"csv_table", csv_table, METH_VARARGS, "a plain CSV file's columns (see the source)"},
    {"read_files", read_files, METH_O, "many small files' bytes, read without the GIL (see the source)"},
    {"box_floats", box_floats, METH_VARARGS, "coordinates as DatasetBuilder reads and snaps them (see the source)"},
    {"yolo_texts", yolo_texts, METH_VARARGS, "the YOLO txt text of many images (see the source)"},
    {"num_rows", num_rows, METH_VARARGS, "rows of numbers in a text template (see the source)"},
    {"num_texts", num_texts, METH_VARARGS, "the shortest text of each double (see the source)"},
    {"coco_eval", coco_eval, METH_VARARGS, "pycocotools' evaluateImg + accumulate (bbox) on flat arrays"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef moddef = {PyModuleDef_HEAD_INIT, "_native", "yolotools' C kernels (optional)", -1, methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__native(void) { return PyModule_Create(&moddef); }
