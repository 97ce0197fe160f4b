/* The compiled half of gymcheck.bytescan: token arrays found and validated on the bytes of a
JSON line.

array_spans finds the arrays; id_array and logprob_array read the text between an array's
brackets, buf[start:end], without building a Python object, and answer the number of values,
or -1 for anything they do not prove. The pure-Python fallback in gymcheck/bytescan.py answers
the same for every input; see there for the grammar and why each limit is where it is. No read
leaves the span (or the buffer): every pointer is compared with `stop` (or the size) before it
is dereferenced.
*/

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

/* Eight bytes at a time where the byte order and a count-trailing-zeros builtin allow it: the
   end of a run of digits is then found without a branch per byte, which mispredicts once per
   number of varying length. Elsewhere the byte loops alone give the same answers. */
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define WORDS 1
#else
#define WORDS 0
#endif

/* The version of the rules below; gymcheck/bytescan.py uses the extension only when it has
   the same (an editable install keeps a stale build beside newer sources). */
#define RULES 2

/* Ids stay below this (10 digits at most, read in 64 bits without overflow). */
#define MAX_ID_LIMIT (1ULL << 32)
/* A log-prob is below 10**MAX_MAGNITUDE_DIGITS in magnitude, certainly a finite double. */
#define MAX_MAGNITUDE_DIGITS 15
/* Exponents are read up to this; one beyond counts as this (which only refuses more). */
#define EXPONENT_CAP 1000000000LL

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
   anything else (-1). A comma right after the value, as every writer puts it, is checked
   first. */
static inline int next_value(cursor *at, cursor stop)
{
    cursor p = *at;
    if (p < stop && *p != ',') {
        p = skip_space(p, stop);
    }
    if (p == stop)
        return 1;
    if (*p != ',')
        return -1;
    p++;
    *at = p < stop && is_space(*p) ? skip_space(p, stop) : p;
    return 0;
}

#if WORDS
static inline uint64_t load_word(cursor p)
{
    uint64_t word;
    memcpy(&word, p, 8);
    return word;
}

/* A bit set in each byte of `word` that is not an ASCII digit, at least in the lowest such
   byte: a byte above 0xF9 carries into the next one, and only bytes above the first
   non-digit can be misread that way. */
static inline uint64_t non_digits(uint64_t word)
{
    const uint64_t high = 0xF0F0F0F0F0F0F0F0ULL, zeros = 0x3030303030303030ULL;
    return ((word & high) ^ zeros) | (((word + 0x0606060606060606ULL) & high) ^ zeros);
}
#endif

static inline cursor skip_digits(cursor p, cursor stop)
{
#if WORDS
    while (stop - p >= 8) {
        uint64_t mask = non_digits(load_word(p));
        if (mask != 0)
            return p + (__builtin_ctzll(mask) >> 3);
        p += 8;
    }
#endif
    while (p < stop && is_digit(*p))
        p++;
    return p;
}

/* The value of the `length` (1 to 10) digits at p, all inside [p, stop). */
static inline unsigned long long digits_value(cursor p, Py_ssize_t length, cursor stop)
{
#if WORDS
    if (length <= 8 && stop - p >= 8) {
        /* The digits moved to the top of the word, below them zeros (leading zero digits),
           then pairs, fours and eights of digits combined by multiplication. */
        uint64_t word = load_word(p);
        if (length < 8)
            word = (word & ((1ULL << (8 * length)) - 1)) << (8 * (8 - length));
        word = ((word & 0x0F0F0F0F0F0F0F0FULL) * 2561) >> 8;
        word = ((word & 0x00FF00FF00FF00FFULL) * 6553601) >> 16;
        return ((word & 0x0000FFFF0000FFFFULL) * 42949672960001ULL) >> 32;
    }
#endif
    unsigned long long value = 0;
    for (cursor end = p + length; p < end; p++)
        value = value * 10 + (unsigned long long)(*p - '0');
    return value;
}

/* The most digits an id below MAX_ID_LIMIT has. */
#define MAX_ID_DIGITS 10

/* JSON non-negative integers without leading zeros, each below `limit`. */
static Py_ssize_t count_ids(cursor p, cursor stop, unsigned long long limit)
{
    Py_ssize_t count = 0;
    p = skip_space(p, stop);
    if (p == stop)
        return 0;
    for (;;) {
        cursor digits = p;
        p = skip_digits(p, stop);
        Py_ssize_t length = p - digits;
        if (length == 0 || length > MAX_ID_DIGITS || (length > 1 && *digits == '0'))
            return -1; /* not a number, too long, or a leading zero */
        if (digits_value(digits, length, stop) >= limit)
            return -1;
        count++;
        int state = next_value(&p, stop);
        if (state != 0)
            return state > 0 ? count : -1;
    }
}


/* Whether the digits of [p, stop) (an unsigned mantissa) are all zeros. */
static int all_zeros(cursor p, cursor stop)
{
    for (; p < stop; p++)
        if (*p != '0' && *p != '.')
            return 0;
    return 1;
}

/* The value of the exponent digits at *at, at most EXPONENT_CAP; *at past them. */
static long long read_exponent(cursor *at, cursor stop)
{
    long long exponent = 0;
    cursor p = *at;
    for (; p < stop && is_digit(*p); p++)
        if (exponent < EXPONENT_CAP)
            exponent = exponent * 10 + (*p - '0');
    *at = p;
    return exponent < EXPONENT_CAP ? exponent : EXPONENT_CAP;
}

/* One log-prob literal at *at: the JSON number grammar with a negative exponent only, below
   10**MAX_MAGNITUDE_DIGITS in magnitude, and signed or zero. 0 and *at past it, or -1. */
static int read_logprob(cursor *at, cursor stop)
{
    cursor first = *at, p = *at;
    int negative = p < stop && *p == '-';
    p += negative;
    if (p == stop || !is_digit(*p))
        return -1;
    cursor integer = p;
    p = *p == '0' ? p + 1 : skip_digits(p, stop);
    /* The value is below 10 ** (integer digits - exponent digits' value). */
    long long magnitude = p - integer;
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
        magnitude -= read_exponent(&p, stop);
        if (p == digits)
            return -1;
    }
    if (magnitude > MAX_MAGNITUDE_DIGITS)
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

/* Whether data[:at] ends with one of the bytes in `prefixes` (a tuple, checked by the
   caller). */
static int follows(cursor data, Py_ssize_t at, PyObject *prefixes)
{
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(prefixes); i++) {
        PyObject *prefix = PyTuple_GET_ITEM(prefixes, i);
        Py_ssize_t length = PyBytes_GET_SIZE(prefix);
        if (length <= at && memcmp(data + at - length, PyBytes_AS_STRING(prefix), (size_t)length) == 0)
            return 1;
    }
    return 0;
}

static int append_index(PyObject *list, Py_ssize_t index)
{
    PyObject *value = PyLong_FromSsize_t(index);
    if (value == NULL)
        return -1;
    int result = PyList_Append(list, value);
    Py_DECREF(value);
    return result;
}

/* The spans of every array right after one of `prefixes`, as a flat list; None when one has
   no closing bracket. */
static PyObject *find_spans(cursor data, Py_ssize_t size, PyObject *prefixes)
{
    PyObject *spans = PyList_New(0);
    if (spans == NULL)
        return NULL;
    Py_ssize_t at = 0;
    while (at < size) {
        cursor bracket = memchr(data + at, '[', (size_t)(size - at));
        if (bracket == NULL)
            break;
        at = bracket - data + 1;
        if (!follows(data, at - 1, prefixes))
            continue;
        cursor close = at < size ? memchr(data + at, ']', (size_t)(size - at)) : NULL;
        if (close == NULL) {
            Py_DECREF(spans);
            Py_RETURN_NONE;
        }
        Py_ssize_t start = at, end = close - data;
        while (start < end && is_space(data[start]))
            start++;
        while (end > start && is_space(data[end - 1]))
            end--;
        if (append_index(spans, start) < 0 || append_index(spans, end) < 0) {
            Py_DECREF(spans);
            return NULL;
        }
        at = close - data + 1;
    }
    return spans;
}

static PyObject *array_spans(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (check_nargs("array_spans", nargs, 2) < 0)
        return NULL;
    PyObject *buf = args[0], *prefixes = args[1];
    if (!PyBytes_Check(buf)) {
        PyErr_Format(PyExc_TypeError, "buf must be bytes, not %.100s", Py_TYPE(buf)->tp_name);
        return NULL;
    }
    if (!PyTuple_Check(prefixes)) {
        PyErr_SetString(PyExc_TypeError, "prefixes must be a tuple of bytes");
        return NULL;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(prefixes); i++) {
        if (!PyBytes_Check(PyTuple_GET_ITEM(prefixes, i))) {
            PyErr_SetString(PyExc_TypeError, "prefixes must be a tuple of bytes");
            return NULL;
        }
    }
    return find_spans((cursor)PyBytes_AS_STRING(buf), PyBytes_GET_SIZE(buf), prefixes);
}

static PyMethodDef methods[] = {
    {"id_array", (PyCFunction)(void (*)(void))id_array, METH_FASTCALL,
     "id_array(buf, start, end, limit) -> count of ids in buf[start:end], or -1"},
    {"logprob_array", (PyCFunction)(void (*)(void))logprob_array, METH_FASTCALL,
     "logprob_array(buf, start, end) -> count of log-probs in buf[start:end], or -1"},
    {"array_spans", (PyCFunction)(void (*)(void))array_spans, METH_FASTCALL,
     "array_spans(buf, prefixes) -> [start, end, ...] of the arrays after prefixes, or None"},
    {NULL, NULL, 0, NULL},
};

static int exec_module(PyObject *module)
{
    return PyModule_AddIntConstant(module, "RULES", RULES);
}

static PyModuleDef_Slot slots[] = {
    {Py_mod_exec, (void *)exec_module},
    {0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "gymcheck._bytescan",
    .m_doc = "Token arrays validated on the bytes of a JSON line (see gymcheck.bytescan).",
    .m_size = 0,
    .m_methods = methods,
    .m_slots = slots,
};

PyMODINIT_FUNC PyInit__bytescan(void) { return PyModuleDef_Init(&module); }
