/* The compiled half of gymcheck.bytescan: token arrays validated on the bytes of a JSON line.

Each function reads the text between an array's brackets, buf[start:end], without building a
Python object, and answers the number of values, or -1 for anything it does not prove. The
pure-Python fallback in gymcheck/bytescan.py answers the same for every input; see there for
the grammar and why each limit is where it is. Only reads inside [start, end) happen: every
pointer is compared with `stop` before it is dereferenced.
*/

#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* Ids stay below this, so a value times 10 plus a digit never overflows 64 bits. */
#define MAX_ID_LIMIT (1ULL << 32)
/* A log-prob literal longer than this is left to the exact path: with no positive exponent
   its magnitude stays below 1e40, certainly a finite double. */
#define MAX_NUMBER_BYTES 40

typedef const unsigned char *cursor;

static inline int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

static inline int is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static inline cursor skip_space(cursor p, cursor stop)
{
    while (p < stop && is_space(*p))
        p++;
    return p;
}

/* After a value: the end of the array (1), a comma and the next value (0, at the value), or
   anything else (-1). */
static inline int next_value(cursor *at, cursor stop)
{
    cursor p = skip_space(*at, stop);
    if (p == stop)
        return 1;
    if (*p != ',')
        return -1;
    *at = skip_space(p + 1, stop);
    return 0;
}

/* JSON non-negative integers without leading zeros, each below `limit`. */
static Py_ssize_t count_ids(cursor p, cursor stop, unsigned long long limit)
{
    Py_ssize_t count = 0;
    p = skip_space(p, stop);
    if (p == stop)
        return 0;
    for (;;) {
        if (p == stop || !is_digit(*p))
            return -1;
        unsigned long long value = (unsigned long long)(*p++ - '0');
        if (value == 0) {
            if (p < stop && is_digit(*p))
                return -1; /* a leading zero */
        }
        else {
            /* value < limit <= 2**32 here, so value * 10 + 9 fits. */
            while (p < stop && is_digit(*p) && value < limit)
                value = value * 10 + (unsigned long long)(*p++ - '0');
        }
        if (value >= limit)
            return -1;
        count++;
        int state = next_value(&p, stop);
        if (state != 0)
            return state > 0 ? count : -1;
    }
}

static inline cursor skip_digits(cursor p, cursor stop)
{
    while (p < stop && is_digit(*p))
        p++;
    return p;
}

/* Whether the digits of [p, stop) (an unsigned mantissa) are all zeros. */
static int all_zeros(cursor p, cursor stop)
{
    for (; p < stop; p++)
        if (*p != '0' && *p != '.')
            return 0;
    return 1;
}

/* One log-prob literal at *at: the JSON number grammar with a negative exponent only; it must
   be signed or zero, and at most MAX_NUMBER_BYTES long. 0 and *at past it, or -1. */
static int read_logprob(cursor *at, cursor stop)
{
    cursor first = *at, p = *at;
    int negative = p < stop && *p == '-';
    p += negative;
    if (p == stop || !is_digit(*p))
        return -1;
    p = *p == '0' ? p + 1 : skip_digits(p, stop);
    if (p < stop && *p == '.') {
        cursor fraction = ++p;
        p = skip_digits(p, stop);
        if (p == fraction)
            return -1;
    }
    cursor mantissa_end = p;
    if (p < stop && (*p == 'e' || *p == 'E')) {
        p++;
        if (p == stop || *p != '-')
            return -1; /* no exponent that could push the value towards infinity */
        cursor digits = ++p;
        p = skip_digits(p, stop);
        if (p == digits)
            return -1;
    }
    if (p - first > MAX_NUMBER_BYTES)
        return -1;
    if (!negative && !all_zeros(first, mantissa_end))
        return -1; /* a positive log-prob (or one that only underflows to zero) */
    *at = p;
    return 0;
}

static Py_ssize_t count_logprobs(cursor p, cursor stop)
{
    Py_ssize_t count = 0;
    p = skip_space(p, stop);
    if (p == stop)
        return 0;
    for (;;) {
        if (read_logprob(&p, stop) < 0)
            return -1;
        count++;
        int state = next_value(&p, stop);
        if (state != 0)
            return state > 0 ? count : -1;
    }
}

/* buf (bytes), start, end: a borrowed view of buf[start:end]; 0, or -1 with an exception. */
static int span_args(PyObject *const *args, cursor *begin, cursor *stop)
{
    if (!PyBytes_Check(args[0])) {
        PyErr_Format(PyExc_TypeError, "buf must be bytes, not %.100s", Py_TYPE(args[0])->tp_name);
        return -1;
    }
    Py_ssize_t start = PyLong_AsSsize_t(args[1]);
    if (start == -1 && PyErr_Occurred())
        return -1;
    Py_ssize_t end = PyLong_AsSsize_t(args[2]);
    if (end == -1 && PyErr_Occurred())
        return -1;
    Py_ssize_t size = PyBytes_GET_SIZE(args[0]);
    if (start < 0 || start > end || end > size) {
        PyErr_Format(PyExc_ValueError, "span [%zd, %zd) is not inside %zd bytes", start, end, size);
        return -1;
    }
    cursor data = (cursor)PyBytes_AS_STRING(args[0]);
    *begin = data + start;
    *stop = data + end;
    return 0;
}

static int check_nargs(const char *name, Py_ssize_t nargs, Py_ssize_t expected)
{
    if (nargs == expected)
        return 0;
    PyErr_Format(PyExc_TypeError, "%s() takes %zd arguments (%zd given)", name, expected, nargs);
    return -1;
}

static PyObject *id_array(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    cursor begin, stop;
    if (check_nargs("id_array", nargs, 4) < 0 || span_args(args, &begin, &stop) < 0)
        return NULL;
    int overflow = 0;
    long long limit = PyLong_AsLongLongAndOverflow(args[3], &overflow);
    if (limit == -1 && PyErr_Occurred())
        return NULL;
    if (overflow != 0 || limit < 0 || (unsigned long long)limit > MAX_ID_LIMIT) {
        PyErr_SetString(PyExc_ValueError, "limit must be in [0, 2**32]");
        return NULL;
    }
    return PyLong_FromSsize_t(count_ids(begin, stop, (unsigned long long)limit));
}

static PyObject *logprob_array(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    cursor begin, stop;
    if (check_nargs("logprob_array", nargs, 3) < 0 || span_args(args, &begin, &stop) < 0)
        return NULL;
    return PyLong_FromSsize_t(count_logprobs(begin, stop));
}

static PyMethodDef methods[] = {
    {"id_array", (PyCFunction)(void (*)(void))id_array, METH_FASTCALL,
     "id_array(buf, start, end, limit) -> count of ids in buf[start:end], or -1"},
    {"logprob_array", (PyCFunction)(void (*)(void))logprob_array, METH_FASTCALL,
     "logprob_array(buf, start, end) -> count of log-probs in buf[start:end], or -1"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "gymcheck._bytescan",
    .m_doc = "Token arrays validated on the bytes of a JSON line (see gymcheck.bytescan).",
    .m_size = 0,
    .m_methods = methods,
};

PyMODINIT_FUNC PyInit__bytescan(void) { return PyModuleDef_Init(&module); }
