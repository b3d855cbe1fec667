/*
 * fake_nvml.c - a fake libnvidia-ml.so.1 for tests.
 *
 * The real pynvml (and tools built on it: gpustat, nvitop) load this library
 * instead of the NVIDIA driver's, so tests exercise the whole stack down to
 * the C ABI without a GPU.  The fake GPUs are described by a text file named
 * by the environment variable FAKE_NVML_CONFIG (see FORMAT.md).  The file is
 * re-read at every nvmlInit* call so an in-process test can rewrite it
 * between init/shutdown cycles.
 *
 * Ground rules:
 *   - A field absent from a GPU's block makes its getter return
 *     NVML_ERROR_NOT_SUPPORTED, like a real board lacking the sensor.
 *   - A config problem is a test bug: it is printed to stderr and
 *     nvmlInit* returns NVML_ERROR_UNKNOWN.
 *   - Handles are pointers into static tables, so a handle itself says
 *     whether it is a physical GPU or a MIG device, and garbage handles are
 *     rejected with NVML_ERROR_INVALID_ARGUMENT.
 *   - Every exported function looks up "fail <its own name> <code>" lines
 *     (via __func__), so any symbol can be forced to fail.
 *
 * Build: cc -Wall -Wextra -shared -fPIC -O1 -Wl,-soname,libnvidia-ml.so.1 \
 *            -o libnvidia-ml.so.1 fake_nvml.c
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ------------------------------------------------------------------------ */
/* NVML ABI subset (layouts mirror nvml.h / pynvml's ctypes structures).    */
/* ------------------------------------------------------------------------ */

typedef int nvmlReturn_t;
enum {
    NVML_SUCCESS = 0,
    NVML_ERROR_UNINITIALIZED = 1,
    NVML_ERROR_INVALID_ARGUMENT = 2,
    NVML_ERROR_NOT_SUPPORTED = 3,
    NVML_ERROR_NOT_FOUND = 6,
    NVML_ERROR_INSUFFICIENT_SIZE = 7,
    NVML_ERROR_ARGUMENT_VERSION_MISMATCH = 25,
    NVML_ERROR_UNKNOWN = 999,
};

#define NVML_VALUE_NOT_AVAILABLE_ULL 0xFFFFFFFFFFFFFFFFULL
#define NVML_NO_INSTANCE_ID 0xFFFFFFFFu /* gpu/compute instance of a non-MIG process */

enum { NVML_TEMPERATURE_GPU = 0 };
enum {
    NVML_TEMPERATURE_THRESHOLD_SHUTDOWN = 0,
    NVML_TEMPERATURE_THRESHOLD_SLOWDOWN = 1,
    NVML_TEMPERATURE_THRESHOLD_MEM_MAX = 2,
    NVML_TEMPERATURE_THRESHOLD_GPU_MAX = 3,
    NVML_TEMPERATURE_THRESHOLD_COUNT = 8,
};

/* All clocks-event reason bits up to DisplayClockSetting (0x100). */
#define SUPPORTED_CLOCKS_EVENT_REASONS 0x1FFULL

#define nvmlMemory_v2 0x02000028u      /* sizeof(nvmlMemory_v2_t) | 2 << 24 */
#define nvmlTemperature_v1 0x0100000Cu /* sizeof(nvmlTemperature_v1_t) | 1 << 24 */

typedef struct {
    unsigned long long total, free, used;
} nvmlMemory_t;

typedef struct {
    unsigned int version;
    unsigned long long total, reserved, free, used;
} nvmlMemory_v2_t;

typedef struct {
    unsigned long long bar1Total, bar1Free, bar1Used;
} nvmlBAR1Memory_t;

typedef struct {
    unsigned int gpu, memory;
} nvmlUtilization_t;

typedef struct {
    char busIdLegacy[16];
    unsigned int domain, bus, device, pciDeviceId, pciSubSystemId;
    char busId[32];
} nvmlPciInfo_t;

typedef struct { /* the _v1 process struct (unversioned symbols) */
    unsigned int pid;
    unsigned long long usedGpuMemory;
} nvmlProcessInfo_v1_t;

typedef struct { /* _v2 and _v3 share this layout */
    unsigned int pid;
    unsigned long long usedGpuMemory;
    unsigned int gpuInstanceId, computeInstanceId;
} nvmlProcessInfo_t;

typedef struct {
    unsigned int version;
    int sensorType;
    int temperature;
} nvmlTemperature_v1_t;

/* ------------------------------------------------------------------------ */
/* The fake world                                                           */
/* ------------------------------------------------------------------------ */

#define MAX_GPUS 16
#define MAX_MIGS 8
#define MAX_PROCS 64
#define MAX_FAILS 32
#define MAX_LINE 2048

typedef struct {
    char symbol[64];
    nvmlReturn_t code;
} forced_fail_t;

typedef struct {
    unsigned int n;
    unsigned int pid[MAX_PROCS];
    unsigned long long used[MAX_PROCS]; /* NVML_VALUE_NOT_AVAILABLE_ULL for "na" */
} proc_list_t;

/*
 * Every scalar/string key a GPU block (or a "mig" line) may set.
 * X(ID, "key", kind, member): the enum, the parser table and the struct
 * members are all generated from this one list so they cannot drift apart.
 */
#define DEVICE_FIELDS(X)                                                  \
    X(NAME, "name", K_STR, name)                                          \
    X(UUID, "uuid", K_STR, uuid)                                          \
    X(PCI_BUS_ID, "pci_bus_id", K_STR, pci_bus_id)                        \
    X(PCI_DEVICE_ID, "pci_device_id", K_U32, pci_device_id)               \
    X(SERIAL, "serial", K_STR, serial)                                    \
    X(MINOR_NUMBER, "minor_number", K_U32, minor_number)                  \
    X(MEMORY_TOTAL, "memory_total", K_U64, memory_total)                  \
    X(MEMORY_RESERVED, "memory_reserved", K_U64, memory_reserved)         \
    X(MEMORY_USED, "memory_used", K_U64, memory_used)                     \
    X(MEMORY_FREE, "memory_free", K_U64, memory_free)                     \
    X(BAR1_TOTAL, "bar1_total", K_U64, bar1_total)                        \
    X(BAR1_USED, "bar1_used", K_U64, bar1_used)                           \
    X(UTIL_GPU, "util_gpu", K_U32, util_gpu)                              \
    X(UTIL_MEMORY, "util_memory", K_U32, util_memory)                     \
    X(UTIL_ENCODER, "util_encoder", K_U32, util_encoder)                  \
    X(UTIL_DECODER, "util_decoder", K_U32, util_decoder)                  \
    X(TEMPERATURE, "temperature", K_U32, temperature)                     \
    X(TEMP_SHUTDOWN, "temp_shutdown", K_U32, temp_shutdown)               \
    X(TEMP_SLOWDOWN, "temp_slowdown", K_U32, temp_slowdown)               \
    X(TEMP_GPU_MAX, "temp_gpu_max", K_U32, temp_gpu_max)                  \
    X(TEMP_MEM_MAX, "temp_mem_max", K_U32, temp_mem_max)                  \
    X(POWER_MW, "power_mw", K_U32, power_mw)                              \
    X(POWER_LIMIT_MW, "power_limit_mw", K_U32, power_limit_mw)            \
    X(FAN, "fan", K_U32, fan)                                             \
    X(CLOCKS_EVENT_REASONS, "clocks_event_reasons", K_U64,                \
      clocks_event_reasons)                                               \
    X(PERFORMANCE_STATE, "performance_state", K_U32, performance_state)   \
    X(PERSISTENCE_MODE, "persistence_mode", K_U32, persistence_mode)      \
    X(COMPUTE_MODE, "compute_mode", K_U32, compute_mode)                  \
    X(DISPLAY_ACTIVE, "display_active", K_U32, display_active)            \
    X(MIG_MODE, "mig_mode", K_U32, mig_mode)                              \
    X(MIG_MODE_PENDING, "mig_mode_pending", K_U32, mig_mode_pending)      \
    X(MIG_MAX_COUNT, "mig_max_count", K_U32, mig_max_count)               \
    X(GPU_INSTANCE_ID, "gpu_instance_id", K_U32, gpu_instance_id)         \
    X(COMPUTE_INSTANCE_ID, "compute_instance_id", K_U32,                  \
      compute_instance_id)                                                \
    X(HANDLE_ERROR, "handle_error", K_U32, handle_error)                  \
    X(DEVICE_ERROR, "device_error", K_U32, device_error)

enum field_kind { K_STR, K_U32, K_U64 };

#define AS_ENUM(id, key, kind, member) F_##id,
enum field_id { DEVICE_FIELDS(AS_ENUM) F_COUNT };
#undef AS_ENUM

typedef struct fake_dev {
    unsigned long long has; /* bit F_x set when the config gave field x */
    char name[96], uuid[96], pci_bus_id[32], serial[30];
    unsigned long long memory_total, memory_reserved, memory_used, memory_free;
    unsigned long long bar1_total, bar1_used;
    unsigned long long clocks_event_reasons;
    unsigned int pci_device_id, minor_number;
    unsigned int util_gpu, util_memory, util_encoder, util_decoder;
    unsigned int temperature, temp_shutdown, temp_slowdown, temp_gpu_max,
        temp_mem_max;
    unsigned int power_mw, power_limit_mw, fan;
    unsigned int performance_state, persistence_mode, compute_mode,
        display_active;
    unsigned int mig_mode, mig_mode_pending, mig_max_count;
    unsigned int gpu_instance_id, compute_instance_id;
    unsigned int handle_error, device_error;
    proc_list_t compute, graphics;
    unsigned int nfails;
    forced_fail_t fails[MAX_FAILS];
} fake_dev_t;

typedef fake_dev_t *nvmlDevice_t;

_Static_assert(F_COUNT <= 64, "field bitmask overflow");

typedef struct {
    const char *key;
    enum field_kind kind;
    size_t offset, size;
} field_spec_t;

#define AS_SPEC(id, key, kind, member) \
    {key, kind, offsetof(fake_dev_t, member), sizeof(((fake_dev_t *)0)->member)},
static const field_spec_t FIELD_SPECS[F_COUNT] = {DEVICE_FIELDS(AS_SPEC)};
#undef AS_SPEC

typedef struct {
    nvmlReturn_t init_error;
    int has_driver_version, has_cuda_driver_version, has_nvml_version;
    char driver_version[80], nvml_version[80];
    int cuda_driver_version;
    unsigned int nfails;
    forced_fail_t fails[MAX_FAILS]; /* apply to every device and system call */
    unsigned int ngpus;
    fake_dev_t gpus[MAX_GPUS];
    unsigned int nmigs[MAX_GPUS];
    fake_dev_t migs[MAX_GPUS][MAX_MIGS];
} fake_world_t;

static fake_world_t g_world;   /* what the API serves; handles point in here */
static fake_world_t g_staging; /* the config is parsed here, then copied */
static unsigned int g_init_refcount;
static pthread_mutex_t g_init_lock = PTHREAD_MUTEX_INITIALIZER;

#define HAS(dev, id) (((dev)->has >> (F_##id)) & 1ULL)

/* ------------------------------------------------------------------------ */
/* Config parser                                                            */
/* ------------------------------------------------------------------------ */

#define FAKE_LIB_NAME "fake_nvml"
#include "../fake_config.h"

static int parse_u64(const char *s, unsigned long long *out)
{
    char *end;
    if (*s == '\0' || *s == '-')
        return cfg_error("expected an unsigned number, got '%s'", s);
    errno = 0;
    *out = strtoull(s, &end, 0); /* base 0: decimal or 0x-hex */
    if (errno || *end != '\0')
        return cfg_error("expected an unsigned number, got '%s'", s);
    return 0;
}

static int parse_u32(const char *s, unsigned int *out)
{
    unsigned long long v;
    if (parse_u64(s, &v))
        return -1;
    if (v > UINT_MAX)
        return cfg_error("number out of range: '%s'", s);
    *out = (unsigned int)v;
    return 0;
}

static const field_spec_t *find_field(const char *key, enum field_id *id)
{
    for (int i = 0; i < F_COUNT; i++) {
        if (strcmp(FIELD_SPECS[i].key, key) == 0) {
            *id = (enum field_id)i;
            return &FIELD_SPECS[i];
        }
    }
    return NULL;
}

static int set_field(fake_dev_t *dev, const char *key, const char *value)
{
    enum field_id id;
    const field_spec_t *spec = find_field(key, &id);
    if (!spec)
        return cfg_error("unknown device key '%s'", key);
    if (*value == '\0')
        return cfg_error("key '%s' needs a value", key);
    char *dst = (char *)dev + spec->offset;
    int rc = 0;
    switch (spec->kind) {
    case K_STR:
        rc = copy_str(dst, spec->size, value);
        break;
    case K_U32:
        rc = parse_u32(value, (unsigned int *)(void *)dst);
        break;
    case K_U64:
        rc = parse_u64(value, (unsigned long long *)(void *)dst);
        break;
    }
    if (rc == 0 && id == F_PCI_BUS_ID) {
        unsigned int d, b, dv, fn;
        char tail;
        if (sscanf(value, "%x:%x:%x.%x%c", &d, &b, &dv, &fn, &tail) != 4)
            return cfg_error("pci_bus_id must look like 00000000:00:09.0, got '%s'", value);
    }
    if (rc == 0)
        dev->has |= 1ULL << id;
    return rc;
}

/* Does this library export `name`?  Catches typos in "fail" lines, which
 * would otherwise silently force nothing. */
static int symbol_exists(const char *name)
{
    Dl_info info;
    if (!dladdr(&g_world, &info) || !info.dli_fname)
        return 1; /* cannot check; trust the config */
    void *self = dlopen(info.dli_fname, RTLD_LAZY | RTLD_NOLOAD);
    if (!self)
        return 1;
    int found = dlsym(self, name) != NULL;
    dlclose(self);
    return found;
}

/* "fail <symbol> <code>" */
static int add_fail(forced_fail_t *fails, unsigned int *nfails, char *rest)
{
    char *code_str;
    char *symbol = split_key(rest, &code_str);
    unsigned int code = 0;
    if (*symbol == '\0' || *code_str == '\0')
        return cfg_error("expected 'fail <symbol> <code>'%s", "");
    if (parse_u32(code_str, &code))
        return -1;
    if (!symbol_exists(symbol))
        return cfg_error("fail: this library exports no symbol '%s'", symbol);
    if (*nfails >= MAX_FAILS)
        return cfg_error("too many fail lines (max %s)", "32");
    forced_fail_t *f = &fails[(*nfails)++];
    if (copy_str(f->symbol, sizeof f->symbol, symbol))
        return -1;
    f->code = (nvmlReturn_t)code;
    return 0;
}

/* "process <pid> <bytes|na>" */
static int add_process(proc_list_t *list, char *rest)
{
    char *used_str;
    char *pid_str = split_key(rest, &used_str);
    unsigned int pid = 0;
    unsigned long long used = 0;
    if (parse_u32(pid_str, &pid))
        return -1;
    if (strcmp(used_str, "na") == 0)
        used = NVML_VALUE_NOT_AVAILABLE_ULL;
    else if (parse_u64(used_str, &used))
        return -1;
    if (list->n >= MAX_PROCS)
        return cfg_error("too many processes (max %s)", "64");
    list->pid[list->n] = pid;
    list->used[list->n] = used;
    list->n++;
    return 0;
}

/* "mig key=value; key=value; ..." - ';' separates fields so names may
 * contain spaces. Keys are the same as GPU keys. */
static int add_mig(fake_world_t *w, unsigned int gpu, char *rest)
{
    if (w->nmigs[gpu] >= MAX_MIGS)
        return cfg_error("too many mig lines (max %s)", "8");
    fake_dev_t *mig = &w->migs[gpu][w->nmigs[gpu]++];
    char *save = NULL;
    for (char *item = strtok_r(rest, ";", &save); item; item = strtok_r(NULL, ";", &save)) {
        item = trim(item);
        if (*item == '\0')
            continue;
        char *eq = strchr(item, '=');
        if (!eq)
            return cfg_error("mig field '%s' is not key=value (fields are separated by ';')", item);
        *eq = '\0';
        char *key = trim(item), *value = trim(eq + 1);
        if (strchr(value, '='))
            return cfg_error("mig value '%s' contains '=': separate fields with ';'", value);
        if (set_field(mig, key, value))
            return -1;
    }
    return 0;
}

static int parse_global(fake_world_t *w, const char *key, char *rest)
{
    unsigned int u = 0;
    if (strcmp(key, "init_error") == 0) {
        if (parse_u32(rest, &u))
            return -1;
        w->init_error = (nvmlReturn_t)u;
        return 0;
    }
    if (strcmp(key, "driver_version") == 0) {
        w->has_driver_version = 1;
        return copy_str(w->driver_version, sizeof w->driver_version, rest);
    }
    if (strcmp(key, "nvml_version") == 0) {
        w->has_nvml_version = 1;
        return copy_str(w->nvml_version, sizeof w->nvml_version, rest);
    }
    if (strcmp(key, "cuda_driver_version") == 0) {
        if (parse_u32(rest, &u) || u > INT_MAX)
            return cfg_error("bad cuda_driver_version '%s'", rest);
        w->has_cuda_driver_version = 1;
        w->cuda_driver_version = (int)u;
        return 0;
    }
    if (strcmp(key, "fail") == 0)
        return add_fail(w->fails, &w->nfails, rest);
    return cfg_error("unknown global key '%s' (device keys go after a 'gpu' line)", key);
}

static int parse_device_line(fake_world_t *w, const char *key, char *rest)
{
    unsigned int gpu = w->ngpus - 1;
    fake_dev_t *dev = &w->gpus[gpu];
    if (strcmp(key, "process") == 0)
        return add_process(&dev->compute, rest);
    if (strcmp(key, "graphics_process") == 0)
        return add_process(&dev->graphics, rest);
    if (strcmp(key, "mig") == 0)
        return add_mig(w, gpu, rest);
    if (strcmp(key, "fail") == 0)
        return add_fail(dev->fails, &dev->nfails, rest);
    return set_field(dev, key, rest);
}

static int parse_config(fake_world_t *w, const char *path)
{
    memset(w, 0, sizeof *w);
    g_cfg_path = path;
    g_cfg_lineno = 0;
    if (!path || !*path) {
        fprintf(stderr, "fake_nvml: FAKE_NVML_CONFIG is not set\n");
        return -1;
    }
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "fake_nvml: cannot open %s: %s\n", path, strerror(errno));
        return -1;
    }
    char buf[MAX_LINE];
    int rc = 0;
    while (rc == 0 && fgets(buf, sizeof buf, f)) {
        g_cfg_lineno++;
        if (!strchr(buf, '\n') && !feof(f)) {
            rc = cfg_error("line longer than %s bytes", "2047");
            break;
        }
        strip_comment(buf);
        char *line = trim(buf), *rest;
        if (*line == '\0')
            continue;
        char *key = split_key(line, &rest);
        if (strcmp(key, "gpu") == 0) {
            if (*rest)
                rc = cfg_error("'gpu' takes no value, got '%s'", rest);
            else if (w->ngpus >= MAX_GPUS)
                rc = cfg_error("too many gpus (max %s)", "16");
            else
                w->ngpus++;
        } else if (w->ngpus == 0) {
            rc = parse_global(w, key, rest);
        } else {
            rc = parse_device_line(w, key, rest);
        }
    }
    fclose(f);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Handles and common entry checks                                          */
/* ------------------------------------------------------------------------ */

/* Which table slot is `h`?  Returns 1 for a live GPU, 2 for a live MIG device,
 * 0 for anything else (stale MIG slots and garbage pointers included). */
static int classify(const void *h, unsigned int *gpu, unsigned int *mig)
{
    uintptr_t p = (uintptr_t)h;
    uintptr_t g0 = (uintptr_t)&g_world.gpus[0], m0 = (uintptr_t)&g_world.migs[0][0];
    if (p >= g0 && p < g0 + sizeof g_world.gpus && (p - g0) % sizeof(fake_dev_t) == 0) {
        *gpu = (unsigned int)((p - g0) / sizeof(fake_dev_t));
        return *gpu < g_world.ngpus ? 1 : 0;
    }
    if (p >= m0 && p < m0 + sizeof g_world.migs && (p - m0) % sizeof(fake_dev_t) == 0) {
        size_t slot = (p - m0) / sizeof(fake_dev_t);
        *gpu = (unsigned int)(slot / MAX_MIGS);
        *mig = (unsigned int)(slot % MAX_MIGS);
        return (*gpu < g_world.ngpus && *mig < g_world.nmigs[*gpu]) ? 2 : 0;
    }
    return 0;
}

static nvmlReturn_t forced_code(const forced_fail_t *fails, unsigned int n, const char *fn)
{
    for (unsigned int i = 0; i < n; i++)
        if (strcmp(fails[i].symbol, fn) == 0)
            return fails[i].code;
    return NVML_SUCCESS;
}

/* Checks shared by system-level calls: initialized, not forced to fail. */
static nvmlReturn_t enter_system(const char *fn)
{
    if (g_init_refcount == 0)
        return NVML_ERROR_UNINITIALIZED;
    return forced_code(g_world.fails, g_world.nfails, fn);
}

/* Checks shared by every per-device call. On success *out is the device.
 * Order: initialized -> valid handle -> device_error of the physical GPU
 * (covers its MIG devices too) -> global fail -> this GPU's fail lines. */
static nvmlReturn_t enter_device(const char *fn, nvmlDevice_t handle, fake_dev_t **out)
{
    unsigned int gpu = 0, mig = 0;
    if (g_init_refcount == 0)
        return NVML_ERROR_UNINITIALIZED;
    int kind = classify(handle, &gpu, &mig);
    if (kind == 0)
        return NVML_ERROR_INVALID_ARGUMENT;
    const fake_dev_t *phys = &g_world.gpus[gpu];
    if (HAS(phys, DEVICE_ERROR) && phys->device_error)
        return (nvmlReturn_t)phys->device_error;
    nvmlReturn_t rc = forced_code(g_world.fails, g_world.nfails, fn);
    if (rc == NVML_SUCCESS && kind == 1)
        rc = forced_code(phys->fails, phys->nfails, fn);
    if (rc == NVML_SUCCESS)
        *out = handle;
    return rc;
}

/* Declares `dev` and returns early unless the device checks pass. */
#define ENTER_DEVICE(handle)                                   \
    fake_dev_t *dev = NULL;                                    \
    do {                                                       \
        nvmlReturn_t rc_ = enter_device(__func__, handle, &dev); \
        if (rc_ != NVML_SUCCESS)                               \
            return rc_;                                        \
    } while (0)

#define ENTER_SYSTEM()                                 \
    do {                                               \
        nvmlReturn_t rc_ = enter_system(__func__);     \
        if (rc_ != NVML_SUCCESS)                       \
            return rc_;                                \
    } while (0)

#define REQUIRE(cond) \
    do {                                               \
        if (!(cond))                                   \
            return NVML_ERROR_INVALID_ARGUMENT;        \
    } while (0)

#define SUPPORTED(dev, id) \
    do {                                               \
        if (!HAS(dev, id))                             \
            return NVML_ERROR_NOT_SUPPORTED;           \
    } while (0)

static int is_mig(const fake_dev_t *dev)
{
    unsigned int gpu, mig;
    return classify(dev, &gpu, &mig) == 2;
}

/* NVML string-getter contract: too small a buffer -> INSUFFICIENT_SIZE. */
static nvmlReturn_t copy_out(char *buf, unsigned int length, const char *s)
{
    REQUIRE(buf != NULL);
    if (strlen(s) + 1 > length)
        return NVML_ERROR_INSUFFICIENT_SIZE;
    memcpy(buf, s, strlen(s) + 1);
    return NVML_SUCCESS;
}

/* ------------------------------------------------------------------------ */
/* Init / shutdown / errors                                                 */
/* ------------------------------------------------------------------------ */

static nvmlReturn_t do_init(void)
{
    nvmlReturn_t rc;
    pthread_mutex_lock(&g_init_lock);
    if (parse_config(&g_staging, getenv("FAKE_NVML_CONFIG")) != 0) {
        rc = NVML_ERROR_UNKNOWN;
    } else if (g_staging.init_error != NVML_SUCCESS) {
        rc = g_staging.init_error;
    } else {
        g_world = g_staging;
        g_init_refcount++;
        rc = NVML_SUCCESS;
    }
    pthread_mutex_unlock(&g_init_lock);
    return rc;
}

nvmlReturn_t nvmlInit(void) { return do_init(); }
nvmlReturn_t nvmlInit_v2(void) { return do_init(); }
nvmlReturn_t nvmlInitWithFlags(unsigned int flags)
{
    (void)flags;
    return do_init();
}

nvmlReturn_t nvmlShutdown(void)
{
    nvmlReturn_t rc = NVML_SUCCESS;
    pthread_mutex_lock(&g_init_lock);
    if (g_init_refcount == 0)
        rc = NVML_ERROR_UNINITIALIZED;
    else
        g_init_refcount--;
    pthread_mutex_unlock(&g_init_lock);
    return rc;
}

const char *nvmlErrorString(nvmlReturn_t result)
{
    switch (result) {
    case 0: return "Success";
    case 1: return "Uninitialized";
    case 2: return "Invalid Argument";
    case 3: return "Not Supported";
    case 4: return "Insufficient Permissions";
    case 5: return "Already Initialized";
    case 6: return "Not Found";
    case 7: return "Insufficient Size";
    case 8: return "Insufficient External Power";
    case 9: return "Driver Not Loaded";
    case 10: return "Timeout";
    case 11: return "Interrupt Request Issue";
    case 12: return "NVML Shared Library Not Found";
    case 13: return "Function Not Found";
    case 14: return "Corrupted infoROM";
    case 15: return "GPU is lost";
    case 16: return "GPU requires restart";
    case 17: return "The operating system has blocked the request.";
    case 18: return "RM has detected an NVML/RM version mismatch.";
    case 19: return "In use by another client";
    case 20: return "Insufficient Memory";
    case 21: return "No data";
    case 22: return "The requested vgpu operation is not available on target device, because ECC is enabled";
    case 23: return "Ran out of critical resources, other than memory";
    case 24: return "The requested frequency is not supported";
    case 25: return "The provided version is invalid/unsupported";
    case 26: return "The requested functionality has been deprecated";
    case 27: return "The system is not ready for the request";
    case 28: return "No GPUs were found";
    case 29: return "Resource not in correct state";
    case 999: return "Unknown Error";
    default: return "Unknown Error String";
    }
}

/* ------------------------------------------------------------------------ */
/* System queries                                                           */
/* ------------------------------------------------------------------------ */

nvmlReturn_t nvmlSystemGetDriverVersion(char *version, unsigned int length)
{
    ENTER_SYSTEM();
    if (!g_world.has_driver_version)
        return NVML_ERROR_NOT_SUPPORTED;
    return copy_out(version, length, g_world.driver_version);
}

nvmlReturn_t nvmlSystemGetNVMLVersion(char *version, unsigned int length)
{
    ENTER_SYSTEM();
    if (!g_world.has_nvml_version)
        return NVML_ERROR_NOT_SUPPORTED;
    return copy_out(version, length, g_world.nvml_version);
}

static nvmlReturn_t cuda_version(int *out)
{
    REQUIRE(out != NULL);
    if (!g_world.has_cuda_driver_version)
        return NVML_ERROR_NOT_SUPPORTED;
    *out = g_world.cuda_driver_version;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlSystemGetCudaDriverVersion(int *v)
{
    ENTER_SYSTEM();
    return cuda_version(v);
}

nvmlReturn_t nvmlSystemGetCudaDriverVersion_v2(int *v)
{
    ENTER_SYSTEM();
    return cuda_version(v);
}

/* Real NVML reads /proc/<pid>/comm-like data; we do the same so tools that
 * show process names get something sensible for live pids. */
nvmlReturn_t nvmlSystemGetProcessName(unsigned int pid, char *name, unsigned int length)
{
    ENTER_SYSTEM();
    REQUIRE(name != NULL && length > 0);
    char path[64], comm[256];
    snprintf(path, sizeof path, "/proc/%u/comm", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return NVML_ERROR_NOT_FOUND;
    if (!fgets(comm, sizeof comm, f))
        comm[0] = '\0';
    fclose(f);
    comm[strcspn(comm, "\n")] = '\0';
    snprintf(name, length, "%s", comm); /* NVML truncates rather than failing */
    return NVML_SUCCESS;
}

/* ------------------------------------------------------------------------ */
/* Device enumeration                                                       */
/* ------------------------------------------------------------------------ */

static nvmlReturn_t device_count(const char *fn, unsigned int *count)
{
    nvmlReturn_t rc = enter_system(fn);
    if (rc != NVML_SUCCESS)
        return rc;
    REQUIRE(count != NULL);
    *count = g_world.ngpus;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetCount(unsigned int *count) { return device_count(__func__, count); }
nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *count) { return device_count(__func__, count); }

static nvmlReturn_t handle_by_index(const char *fn, unsigned int index, nvmlDevice_t *device)
{
    nvmlReturn_t rc = enter_system(fn);
    if (rc != NVML_SUCCESS)
        return rc;
    REQUIRE(device != NULL && index < g_world.ngpus);
    fake_dev_t *dev = &g_world.gpus[index];
    if (HAS(dev, HANDLE_ERROR) && dev->handle_error)
        return (nvmlReturn_t)dev->handle_error;
    rc = forced_code(dev->fails, dev->nfails, fn);
    if (rc != NVML_SUCCESS)
        return rc;
    *device = dev;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetHandleByIndex(unsigned int index, nvmlDevice_t *device)
{
    return handle_by_index(__func__, index, device);
}

nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t *device)
{
    return handle_by_index(__func__, index, device);
}

/* Finds a GPU or MIG device whose string field `id` equals `value`. */
static fake_dev_t *find_device(enum field_id id, const char *value)
{
    size_t off = FIELD_SPECS[id].offset;
    for (unsigned int g = 0; g < g_world.ngpus; g++) {
        fake_dev_t *dev = &g_world.gpus[g];
        if (((dev->has >> id) & 1) && strcmp((char *)dev + off, value) == 0)
            return dev;
        for (unsigned int m = 0; m < g_world.nmigs[g]; m++) {
            fake_dev_t *mig = &g_world.migs[g][m];
            if (((mig->has >> id) & 1) && strcmp((char *)mig + off, value) == 0)
                return mig;
        }
    }
    return NULL;
}

static nvmlReturn_t handle_by_string(const char *fn, enum field_id id, const char *value,
                                     nvmlDevice_t *device)
{
    nvmlReturn_t rc = enter_system(fn);
    if (rc != NVML_SUCCESS)
        return rc;
    REQUIRE(value != NULL && device != NULL);
    fake_dev_t *dev = find_device(id, value);
    if (!dev)
        return NVML_ERROR_NOT_FOUND;
    *device = dev;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetHandleByUUID(const char *uuid, nvmlDevice_t *device)
{
    return handle_by_string(__func__, F_UUID, uuid, device);
}

nvmlReturn_t nvmlDeviceGetHandleBySerial(const char *serial, nvmlDevice_t *device)
{
    return handle_by_string(__func__, F_SERIAL, serial, device);
}

/* Bus ids are matched numerically so "0000:00:09.0" finds "00000000:00:09.0". */
static nvmlReturn_t handle_by_pci(const char *fn, const char *bus_id, nvmlDevice_t *device)
{
    nvmlReturn_t rc = enter_system(fn);
    if (rc != NVML_SUCCESS)
        return rc;
    REQUIRE(bus_id != NULL && device != NULL);
    unsigned int want[4], have[4];
    if (sscanf(bus_id, "%x:%x:%x.%x", &want[0], &want[1], &want[2], &want[3]) != 4)
        return NVML_ERROR_INVALID_ARGUMENT;
    for (unsigned int g = 0; g < g_world.ngpus; g++) {
        fake_dev_t *dev = &g_world.gpus[g];
        if (!HAS(dev, PCI_BUS_ID))
            continue;
        sscanf(dev->pci_bus_id, "%x:%x:%x.%x", &have[0], &have[1], &have[2], &have[3]);
        if (memcmp(want, have, sizeof want) == 0) {
            *device = dev;
            return NVML_SUCCESS;
        }
    }
    return NVML_ERROR_NOT_FOUND;
}

nvmlReturn_t nvmlDeviceGetHandleByPciBusId(const char *id, nvmlDevice_t *device)
{
    return handle_by_pci(__func__, id, device);
}

nvmlReturn_t nvmlDeviceGetHandleByPciBusId_v2(const char *id, nvmlDevice_t *device)
{
    return handle_by_pci(__func__, id, device);
}

/* For a MIG handle this is the MIG device's index within its parent (the
 * index nvmlDeviceGetMigDeviceHandleByIndex takes). */
nvmlReturn_t nvmlDeviceGetIndex(nvmlDevice_t device, unsigned int *index)
{
    ENTER_DEVICE(device);
    REQUIRE(index != NULL);
    unsigned int gpu = 0, mig = 0;
    *index = classify(dev, &gpu, &mig) == 2 ? mig : gpu;
    return NVML_SUCCESS;
}

/* ------------------------------------------------------------------------ */
/* Identity                                                                 */
/* ------------------------------------------------------------------------ */

nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t device, char *name, unsigned int length)
{
    ENTER_DEVICE(device);
    SUPPORTED(dev, NAME);
    return copy_out(name, length, dev->name);
}

nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t device, char *uuid, unsigned int length)
{
    ENTER_DEVICE(device);
    SUPPORTED(dev, UUID);
    return copy_out(uuid, length, dev->uuid);
}

nvmlReturn_t nvmlDeviceGetSerial(nvmlDevice_t device, char *serial, unsigned int length)
{
    ENTER_DEVICE(device);
    SUPPORTED(dev, SERIAL);
    return copy_out(serial, length, dev->serial);
}

nvmlReturn_t nvmlDeviceGetMinorNumber(nvmlDevice_t device, unsigned int *minor)
{
    ENTER_DEVICE(device);
    REQUIRE(minor != NULL);
    SUPPORTED(dev, MINOR_NUMBER);
    *minor = dev->minor_number;
    return NVML_SUCCESS;
}

/* pynvml's nvmlDeviceGetPciInfo() calls the _v3 symbol; the legacy _v1/_v2
 * symbols share the layout (their busId field is what _v3 calls busIdLegacy). */
static nvmlReturn_t pci_info(fake_dev_t *dev, nvmlPciInfo_t *pci)
{
    REQUIRE(pci != NULL);
    SUPPORTED(dev, PCI_BUS_ID);
    unsigned int domain, bus, device, function;
    sscanf(dev->pci_bus_id, "%x:%x:%x.%x", &domain, &bus, &device, &function);
    memset(pci, 0, sizeof *pci);
    pci->domain = domain;
    pci->bus = bus;
    pci->device = device;
    pci->pciDeviceId = dev->pci_device_id;
    /* busId: "%08X:%02X:%02X.0"; the legacy 16-byte field cannot hold that,
     * so real NVML puts the 4-digit-domain form there. */
    snprintf(pci->busId, sizeof pci->busId, "%08X:%02X:%02X.%X", domain, bus, device, function);
    snprintf(pci->busIdLegacy, sizeof pci->busIdLegacy, "%04X:%02X:%02X.%X", domain & 0xFFFF,
             bus & 0xFF, device & 0xFF, function & 0xF);
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetPciInfo(nvmlDevice_t device, nvmlPciInfo_t *pci)
{
    ENTER_DEVICE(device);
    return pci_info(dev, pci);
}

nvmlReturn_t nvmlDeviceGetPciInfo_v2(nvmlDevice_t device, nvmlPciInfo_t *pci)
{
    ENTER_DEVICE(device);
    return pci_info(dev, pci);
}

nvmlReturn_t nvmlDeviceGetPciInfo_v3(nvmlDevice_t device, nvmlPciInfo_t *pci)
{
    ENTER_DEVICE(device);
    return pci_info(dev, pci);
}

/* ------------------------------------------------------------------------ */
/* Memory                                                                   */
/* ------------------------------------------------------------------------ */

/* memory_total is required; used/reserved default to 0 and free to the rest. */
static void memory_numbers(const fake_dev_t *dev, unsigned long long *reserved,
                           unsigned long long *used, unsigned long long *free_)
{
    *reserved = HAS(dev, MEMORY_RESERVED) ? dev->memory_reserved : 0;
    *used = HAS(dev, MEMORY_USED) ? dev->memory_used : 0;
    if (HAS(dev, MEMORY_FREE))
        *free_ = dev->memory_free;
    else if (*used + *reserved <= dev->memory_total)
        *free_ = dev->memory_total - *used - *reserved;
    else
        *free_ = 0;
}

/* v1 semantics: "used" includes the driver-reserved memory. */
nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t device, nvmlMemory_t *memory)
{
    ENTER_DEVICE(device);
    REQUIRE(memory != NULL);
    SUPPORTED(dev, MEMORY_TOTAL);
    unsigned long long reserved, used, free_;
    memory_numbers(dev, &reserved, &used, &free_);
    memory->total = dev->memory_total;
    memory->free = free_;
    memory->used = used + reserved;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t device, nvmlMemory_v2_t *memory)
{
    ENTER_DEVICE(device);
    REQUIRE(memory != NULL);
    if (memory->version != nvmlMemory_v2)
        return NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
    SUPPORTED(dev, MEMORY_TOTAL);
    unsigned long long reserved, used, free_;
    memory_numbers(dev, &reserved, &used, &free_);
    memory->total = dev->memory_total;
    memory->reserved = reserved;
    memory->free = free_;
    memory->used = used;
    return NVML_SUCCESS;
}

/* nvitop 1.7.2 crashes (KeyError 'bar1_memory_percent_string') printing a
 * MIG device whose BAR1 info is unsupported, so MIG configs want these. */
nvmlReturn_t nvmlDeviceGetBAR1MemoryInfo(nvmlDevice_t device, nvmlBAR1Memory_t *bar1)
{
    ENTER_DEVICE(device);
    REQUIRE(bar1 != NULL);
    SUPPORTED(dev, BAR1_TOTAL);
    unsigned long long used = HAS(dev, BAR1_USED) ? dev->bar1_used : 0;
    bar1->bar1Total = dev->bar1_total;
    bar1->bar1Used = used;
    bar1->bar1Free = used <= dev->bar1_total ? dev->bar1_total - used : 0;
    return NVML_SUCCESS;
}

/* ------------------------------------------------------------------------ */
/* Utilization, temperature, power, fan, clocks                             */
/* ------------------------------------------------------------------------ */

nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDevice_t device, nvmlUtilization_t *util)
{
    ENTER_DEVICE(device);
    REQUIRE(util != NULL);
    SUPPORTED(dev, UTIL_GPU);
    util->gpu = dev->util_gpu;
    util->memory = HAS(dev, UTIL_MEMORY) ? dev->util_memory : 0;
    return NVML_SUCCESS;
}

/* The sampling period is fixed at 1/6 s, a typical value. */
nvmlReturn_t nvmlDeviceGetEncoderUtilization(nvmlDevice_t device, unsigned int *util,
                                             unsigned int *period_us)
{
    ENTER_DEVICE(device);
    REQUIRE(util != NULL && period_us != NULL);
    SUPPORTED(dev, UTIL_ENCODER);
    *util = dev->util_encoder;
    *period_us = 166666;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetDecoderUtilization(nvmlDevice_t device, unsigned int *util,
                                             unsigned int *period_us)
{
    ENTER_DEVICE(device);
    REQUIRE(util != NULL && period_us != NULL);
    SUPPORTED(dev, UTIL_DECODER);
    *util = dev->util_decoder;
    *period_us = 166666;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetTemperature(nvmlDevice_t device, int sensor, unsigned int *temp)
{
    ENTER_DEVICE(device);
    REQUIRE(temp != NULL && sensor == NVML_TEMPERATURE_GPU);
    SUPPORTED(dev, TEMPERATURE);
    *temp = dev->temperature;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetTemperatureV(nvmlDevice_t device, nvmlTemperature_v1_t *temp)
{
    ENTER_DEVICE(device);
    REQUIRE(temp != NULL);
    if (temp->version != nvmlTemperature_v1)
        return NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
    REQUIRE(temp->sensorType == NVML_TEMPERATURE_GPU);
    SUPPORTED(dev, TEMPERATURE);
    temp->temperature = (int)dev->temperature;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetTemperatureThreshold(nvmlDevice_t device, int threshold,
                                               unsigned int *temp)
{
    ENTER_DEVICE(device);
    REQUIRE(temp != NULL && threshold >= 0 && threshold < NVML_TEMPERATURE_THRESHOLD_COUNT);
    switch (threshold) {
    case NVML_TEMPERATURE_THRESHOLD_SHUTDOWN:
        SUPPORTED(dev, TEMP_SHUTDOWN);
        *temp = dev->temp_shutdown;
        return NVML_SUCCESS;
    case NVML_TEMPERATURE_THRESHOLD_SLOWDOWN:
        SUPPORTED(dev, TEMP_SLOWDOWN);
        *temp = dev->temp_slowdown;
        return NVML_SUCCESS;
    case NVML_TEMPERATURE_THRESHOLD_MEM_MAX:
        SUPPORTED(dev, TEMP_MEM_MAX);
        *temp = dev->temp_mem_max;
        return NVML_SUCCESS;
    case NVML_TEMPERATURE_THRESHOLD_GPU_MAX:
        SUPPORTED(dev, TEMP_GPU_MAX);
        *temp = dev->temp_gpu_max;
        return NVML_SUCCESS;
    default: /* acoustic and GPS thresholds are not modeled */
        return NVML_ERROR_NOT_SUPPORTED;
    }
}

nvmlReturn_t nvmlDeviceGetPowerUsage(nvmlDevice_t device, unsigned int *mw)
{
    ENTER_DEVICE(device);
    REQUIRE(mw != NULL);
    SUPPORTED(dev, POWER_MW);
    *mw = dev->power_mw;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetEnforcedPowerLimit(nvmlDevice_t device, unsigned int *mw)
{
    ENTER_DEVICE(device);
    REQUIRE(mw != NULL);
    SUPPORTED(dev, POWER_LIMIT_MW);
    *mw = dev->power_limit_mw;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetPowerManagementLimit(nvmlDevice_t device, unsigned int *mw)
{
    ENTER_DEVICE(device);
    REQUIRE(mw != NULL);
    SUPPORTED(dev, POWER_LIMIT_MW);
    *mw = dev->power_limit_mw;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetFanSpeed(nvmlDevice_t device, unsigned int *speed)
{
    ENTER_DEVICE(device);
    REQUIRE(speed != NULL);
    SUPPORTED(dev, FAN);
    *speed = dev->fan;
    return NVML_SUCCESS;
}

static nvmlReturn_t current_reasons(fake_dev_t *dev, unsigned long long *reasons)
{
    REQUIRE(reasons != NULL);
    SUPPORTED(dev, CLOCKS_EVENT_REASONS);
    *reasons = dev->clocks_event_reasons;
    return NVML_SUCCESS;
}

static nvmlReturn_t supported_reasons(fake_dev_t *dev, unsigned long long *reasons)
{
    REQUIRE(reasons != NULL);
    SUPPORTED(dev, CLOCKS_EVENT_REASONS);
    *reasons = SUPPORTED_CLOCKS_EVENT_REASONS;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetCurrentClocksEventReasons(nvmlDevice_t device,
                                                    unsigned long long *reasons)
{
    ENTER_DEVICE(device);
    return current_reasons(dev, reasons);
}

nvmlReturn_t nvmlDeviceGetCurrentClocksThrottleReasons(nvmlDevice_t device,
                                                       unsigned long long *reasons)
{
    ENTER_DEVICE(device);
    return current_reasons(dev, reasons);
}

nvmlReturn_t nvmlDeviceGetSupportedClocksEventReasons(nvmlDevice_t device,
                                                      unsigned long long *reasons)
{
    ENTER_DEVICE(device);
    return supported_reasons(dev, reasons);
}

nvmlReturn_t nvmlDeviceGetSupportedClocksThrottleReasons(nvmlDevice_t device,
                                                         unsigned long long *reasons)
{
    ENTER_DEVICE(device);
    return supported_reasons(dev, reasons);
}

/* ------------------------------------------------------------------------ */
/* Modes and states                                                         */
/* ------------------------------------------------------------------------ */

nvmlReturn_t nvmlDeviceGetPerformanceState(nvmlDevice_t device, unsigned int *pstate)
{
    ENTER_DEVICE(device);
    REQUIRE(pstate != NULL);
    SUPPORTED(dev, PERFORMANCE_STATE);
    *pstate = dev->performance_state;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetPersistenceMode(nvmlDevice_t device, unsigned int *mode)
{
    ENTER_DEVICE(device);
    REQUIRE(mode != NULL);
    SUPPORTED(dev, PERSISTENCE_MODE);
    *mode = dev->persistence_mode;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetComputeMode(nvmlDevice_t device, unsigned int *mode)
{
    ENTER_DEVICE(device);
    REQUIRE(mode != NULL);
    SUPPORTED(dev, COMPUTE_MODE);
    *mode = dev->compute_mode;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetDisplayActive(nvmlDevice_t device, unsigned int *active)
{
    ENTER_DEVICE(device);
    REQUIRE(active != NULL);
    SUPPORTED(dev, DISPLAY_ACTIVE);
    *active = dev->display_active;
    return NVML_SUCCESS;
}

/* ------------------------------------------------------------------------ */
/* Processes                                                                */
/* ------------------------------------------------------------------------ */

/*
 * NVML's two-call protocol: the caller first passes *count = 0 (infos may
 * be NULL); we answer INSUFFICIENT_SIZE with the real count in *count, or
 * SUCCESS with *count = 0 when nothing runs. The second call gets a big
 * enough array. Process lists are always supported (empty by default);
 * emulate "unsupported" with a fail line.
 */
static nvmlReturn_t list_processes(const proc_list_t *list, unsigned int *count,
                                   nvmlProcessInfo_t *infos)
{
    REQUIRE(count != NULL);
    if (*count < list->n || (list->n > 0 && infos == NULL)) {
        *count = list->n;
        return NVML_ERROR_INSUFFICIENT_SIZE;
    }
    for (unsigned int i = 0; i < list->n; i++) {
        infos[i].pid = list->pid[i];
        infos[i].usedGpuMemory = list->used[i];
        infos[i].gpuInstanceId = NVML_NO_INSTANCE_ID;
        infos[i].computeInstanceId = NVML_NO_INSTANCE_ID;
    }
    *count = list->n;
    return NVML_SUCCESS;
}

static nvmlReturn_t list_processes_v1(const proc_list_t *list, unsigned int *count,
                                      nvmlProcessInfo_v1_t *infos)
{
    REQUIRE(count != NULL);
    if (*count < list->n || (list->n > 0 && infos == NULL)) {
        *count = list->n;
        return NVML_ERROR_INSUFFICIENT_SIZE;
    }
    for (unsigned int i = 0; i < list->n; i++) {
        infos[i].pid = list->pid[i];
        infos[i].usedGpuMemory = list->used[i];
    }
    *count = list->n;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetComputeRunningProcesses(nvmlDevice_t device, unsigned int *count,
                                                  nvmlProcessInfo_v1_t *infos)
{
    ENTER_DEVICE(device);
    return list_processes_v1(&dev->compute, count, infos);
}

nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v2(nvmlDevice_t device, unsigned int *count,
                                                     nvmlProcessInfo_t *infos)
{
    ENTER_DEVICE(device);
    return list_processes(&dev->compute, count, infos);
}

nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v3(nvmlDevice_t device, unsigned int *count,
                                                     nvmlProcessInfo_t *infos)
{
    ENTER_DEVICE(device);
    return list_processes(&dev->compute, count, infos);
}

nvmlReturn_t nvmlDeviceGetGraphicsRunningProcesses(nvmlDevice_t device, unsigned int *count,
                                                   nvmlProcessInfo_v1_t *infos)
{
    ENTER_DEVICE(device);
    return list_processes_v1(&dev->graphics, count, infos);
}

nvmlReturn_t nvmlDeviceGetGraphicsRunningProcesses_v2(nvmlDevice_t device, unsigned int *count,
                                                      nvmlProcessInfo_t *infos)
{
    ENTER_DEVICE(device);
    return list_processes(&dev->graphics, count, infos);
}

nvmlReturn_t nvmlDeviceGetGraphicsRunningProcesses_v3(nvmlDevice_t device, unsigned int *count,
                                                      nvmlProcessInfo_t *infos)
{
    ENTER_DEVICE(device);
    return list_processes(&dev->graphics, count, infos);
}

/* No MPS servers in the fake world: always an empty list. */
nvmlReturn_t nvmlDeviceGetMPSComputeRunningProcesses_v3(nvmlDevice_t device, unsigned int *count,
                                                        nvmlProcessInfo_t *infos)
{
    static const proc_list_t none;
    ENTER_DEVICE(device);
    return list_processes(&none, count, infos);
}

/* ------------------------------------------------------------------------ */
/* MIG                                                                      */
/* ------------------------------------------------------------------------ */

nvmlReturn_t nvmlDeviceGetMigMode(nvmlDevice_t device, unsigned int *current, unsigned int *pending)
{
    ENTER_DEVICE(device);
    REQUIRE(current != NULL && pending != NULL);
    if (is_mig(dev))
        return NVML_ERROR_NOT_SUPPORTED;
    SUPPORTED(dev, MIG_MODE);
    *current = dev->mig_mode;
    *pending = HAS(dev, MIG_MODE_PENDING) ? dev->mig_mode_pending : dev->mig_mode;
    return NVML_SUCCESS;
}

/* mig_max_count defaults to the number of "mig" lines (0 on non-MIG GPUs,
 * which is what real NVML reports for them). */
nvmlReturn_t nvmlDeviceGetMaxMigDeviceCount(nvmlDevice_t device, unsigned int *count)
{
    ENTER_DEVICE(device);
    REQUIRE(count != NULL);
    if (is_mig(dev))
        return NVML_ERROR_INVALID_ARGUMENT;
    unsigned int gpu = (unsigned int)(dev - g_world.gpus);
    *count = HAS(dev, MIG_MAX_COUNT) ? dev->mig_max_count : g_world.nmigs[gpu];
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetMigDeviceHandleByIndex(nvmlDevice_t device, unsigned int index,
                                                 nvmlDevice_t *mig_device)
{
    ENTER_DEVICE(device);
    REQUIRE(mig_device != NULL);
    if (is_mig(dev))
        return NVML_ERROR_INVALID_ARGUMENT;
    unsigned int gpu = (unsigned int)(dev - g_world.gpus);
    if (index >= g_world.nmigs[gpu])
        return NVML_ERROR_NOT_FOUND;
    *mig_device = &g_world.migs[gpu][index];
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceIsMigDeviceHandle(nvmlDevice_t device, unsigned int *is_mig_device)
{
    ENTER_DEVICE(device);
    REQUIRE(is_mig_device != NULL);
    *is_mig_device = (unsigned int)is_mig(dev);
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetDeviceHandleFromMigDeviceHandle(nvmlDevice_t mig_device,
                                                          nvmlDevice_t *device)
{
    ENTER_DEVICE(mig_device);
    REQUIRE(device != NULL);
    unsigned int gpu = 0, mig = 0;
    if (classify(dev, &gpu, &mig) != 2)
        return NVML_ERROR_INVALID_ARGUMENT;
    *device = &g_world.gpus[gpu];
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetGpuInstanceId(nvmlDevice_t device, unsigned int *id)
{
    ENTER_DEVICE(device);
    REQUIRE(id != NULL);
    SUPPORTED(dev, GPU_INSTANCE_ID);
    *id = dev->gpu_instance_id;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetComputeInstanceId(nvmlDevice_t device, unsigned int *id)
{
    ENTER_DEVICE(device);
    REQUIRE(id != NULL);
    SUPPORTED(dev, COMPUTE_INSTANCE_ID);
    *id = dev->compute_instance_id;
    return NVML_SUCCESS;
}

/* ------------------------------------------------------------------------ */
/* Symbols tools probe but the fake does not model                          */
/* ------------------------------------------------------------------------ */

/*
 * gpustat and nvitop call these; a missing symbol would make pynvml raise
 * FunctionNotFound (and nvitop log a traceback), whereas a real Linux driver
 * exports them and answers NOT_SUPPORTED for features the board lacks.
 * The stubs take only the handle: under the C calling convention extra
 * arguments are ignored, and the device checks (init, handle, device_error,
 * fail lines) still apply.
 */
#define UNMODELED_DEVICE_SYMBOL(symbol)        \
    nvmlReturn_t symbol(nvmlDevice_t device);  \
    nvmlReturn_t symbol(nvmlDevice_t device)   \
    {                                          \
        ENTER_DEVICE(device);                  \
        (void)dev;                             \
        return NVML_ERROR_NOT_SUPPORTED;       \
    }

UNMODELED_DEVICE_SYMBOL(nvmlDeviceGetDriverModel)       /* Windows only */
UNMODELED_DEVICE_SYMBOL(nvmlDeviceGetDriverModel_v2)    /* Windows only */
UNMODELED_DEVICE_SYMBOL(nvmlDeviceGetTotalEccErrors)
UNMODELED_DEVICE_SYMBOL(nvmlDeviceGetEccMode)
UNMODELED_DEVICE_SYMBOL(nvmlDeviceGetConfComputeMemSizeInfo)
UNMODELED_DEVICE_SYMBOL(nvmlDeviceGetProcessUtilization)
UNMODELED_DEVICE_SYMBOL(nvmlDeviceGetRunningProcessDetailList)
UNMODELED_DEVICE_SYMBOL(nvmlDeviceGetFieldValues)
UNMODELED_DEVICE_SYMBOL(nvmlDeviceGetClockInfo)
UNMODELED_DEVICE_SYMBOL(nvmlDeviceGetMaxClockInfo)
UNMODELED_DEVICE_SYMBOL(nvmlDeviceGetCudaComputeCapability)
UNMODELED_DEVICE_SYMBOL(nvmlDeviceGetPcieThroughput)
UNMODELED_DEVICE_SYMBOL(nvmlDeviceGetDisplayMode)
UNMODELED_DEVICE_SYMBOL(nvmlDeviceGetNumFans)
UNMODELED_DEVICE_SYMBOL(nvmlDeviceGetFanSpeed_v2)
UNMODELED_DEVICE_SYMBOL(nvmlDeviceGetVbiosVersion)
UNMODELED_DEVICE_SYMBOL(nvmlDeviceGetBrand)
UNMODELED_DEVICE_SYMBOL(nvmlDeviceGetArchitecture)
UNMODELED_DEVICE_SYMBOL(nvmlDeviceGetCurrPcieLinkGeneration)
UNMODELED_DEVICE_SYMBOL(nvmlDeviceGetCurrPcieLinkWidth)
UNMODELED_DEVICE_SYMBOL(nvmlDeviceGetMaxPcieLinkGeneration)
UNMODELED_DEVICE_SYMBOL(nvmlDeviceGetMaxPcieLinkWidth)
UNMODELED_DEVICE_SYMBOL(nvmlDeviceGetMemoryErrorCounter)
UNMODELED_DEVICE_SYMBOL(nvmlDeviceGetMPSComputeRunningProcesses)
UNMODELED_DEVICE_SYMBOL(nvmlDeviceGetMPSComputeRunningProcesses_v2)
