/* yolotools.eval._cocoeval: pycocotools' evaluateImg + accumulate (bbox) on flat arrays.
 *
 * The one native kernel of yolotools, and a required one: setup.py builds it on
 * every install (no compiler is an install error), so every machine runs the
 * same code.  yolotools/eval/coco.py documents the definitions it follows;
 * tests/eval compare its precision/recall arrays and the 12 numbers with
 * pycocotools.  No numpy headers: arrays come in and go out through the buffer
 * protocol.  Built with -ffp-contract=off: no fused multiply-add changes a double.
 *
 * coco_eval(...) -> number of detections kept (maxDets per image and class)
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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

static PyMethodDef methods[] = {
    {"coco_eval", coco_eval, METH_VARARGS, "pycocotools' evaluateImg + accumulate (bbox) on flat arrays"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef moddef = {PyModuleDef_HEAD_INIT, "_cocoeval", "pycocotools' evaluateImg + accumulate in C", -1, methods,
                                    NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__cocoeval(void) { return PyModule_Create(&moddef); }
