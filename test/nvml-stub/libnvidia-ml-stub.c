/*
 * kilowatch's stand-in for libnvidia-ml.so.1: the NVML entry points the nvml
 * source binds, with the ABI of nvml.h (NVML API 12: same symbol names, same
 * argument lists, same struct layouts), and simulated devices behind them.
 * Built by test/helpers/nvml-stub.ts with
 *   gcc -shared -fPIC -O2 -o libnvidia-ml.so.1 libnvidia-ml-stub.c -lm
 *
 * Environment (read once, at the first nvmlInit_v2 of a loaded copy):
 *   KW_NVML_STUB_GPUS=N            number of devices (default 4, at most 16)
 *   KW_NVML_STUB_HANG=i[@ms]       every call on device i blocks forever (from
 *                                  the start, or once ms have passed since init):
 *                                  a GPU in an Xid state whose NVML calls hang
 *   KW_NVML_STUB_HANG_RELEASE=path a blocked call returns NVML_ERROR_GPU_IS_LOST
 *                                  once this file exists, so a test process can exit
 *   KW_NVML_STUB_SPIKE_MS=start:dur:watts[:i]  device i (default 0) draws `watts`
 *                                  during [start, start+dur) (epoch ms)
 *   KW_NVML_STUB_PIDS=a[,b]        pids of the two compute processes on device 0
 *                                  (default 4242, 4243)
 *
 * Devices: UUID GPU-6b7c1f00-0000-4000-8000-0000000000NN, enforced limit 700 W,
 * power P_i(t) = base_i + 40 W * sin(2 pi (t - t0) / 4 s + phase_i), and an
 * energy counter that is the exact integral of that power since "driver load"
 * (t0 = the first nvmlInit_v2). Unsupported on purpose, so absent-not-zero is
 * tested: NVML_FI_DEV_POWER_INSTANT on device 1 (per-field NOT_SUPPORTED),
 * nvmlDeviceGetTotalEnergyConsumption and nvmlDeviceGetMigMode on device 3.
 */
#define _GNU_SOURCE
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* nvml.h: typedef enum nvmlReturn_enum {...} nvmlReturn_t (int-sized). */
typedef int nvmlReturn_t;
#define NVML_SUCCESS 0
#define NVML_ERROR_UNINITIALIZED 1
#define NVML_ERROR_INVALID_ARGUMENT 2
#define NVML_ERROR_NOT_SUPPORTED 3
#define NVML_ERROR_INSUFFICIENT_SIZE 7
#define NVML_ERROR_GPU_IS_LOST 15
#define NVML_ERROR_UNKNOWN 999

#define NVML_VALUE_TYPE_UNSIGNED_INT 1
#define NVML_FI_DEV_POWER_INSTANT 186
#define NVML_TEMPERATURE_GPU 0
#define NVML_CLOCK_SM 1
#define NVML_VALUE_NOT_AVAILABLE_ULL 0xFFFFFFFFFFFFFFFFULL

/* nvmlClocksEventReason* bits (same values as nvmlClocksThrottleReason*). */
#define REASON_GPU_IDLE 0x1ULL
#define REASON_SW_POWER_CAP 0x4ULL
#define REASON_SW_THERMAL 0x20ULL

/* nvml.h: typedef struct nvmlDevice_st *nvmlDevice_t; the struct is opaque to callers. */
struct nvmlDevice_st { unsigned int index; };
typedef struct nvmlDevice_st *nvmlDevice_t;

typedef struct { unsigned int gpu; unsigned int memory; } nvmlUtilization_t;
typedef struct { unsigned long long total; unsigned long long free; unsigned long long used; } nvmlMemory_t;
typedef union {
  double dVal; int siVal; unsigned int uiVal; unsigned long ulVal;
  unsigned long long ullVal; long long sllVal; unsigned short usVal;
} nvmlValue_t;
typedef struct {
  unsigned int fieldId; unsigned int scopeId; long long timestamp; long long latencyUsec;
  int valueType; nvmlReturn_t nvmlReturn; nvmlValue_t value;
} nvmlFieldValue_t;
/* nvmlProcessInfo_v2_t, the element type of nvmlDeviceGetComputeRunningProcesses_v3. */
typedef struct {
  unsigned int pid; unsigned long long usedGpuMemory;
  unsigned int gpuInstanceId; unsigned int computeInstanceId;
} nvmlProcessInfo_t;

_Static_assert(sizeof(nvmlFieldValue_t) == 40, "nvmlFieldValue_t is 40 bytes on LP64");
_Static_assert(sizeof(nvmlProcessInfo_t) == 24, "nvmlProcessInfo_v2_t is 24 bytes on LP64");
_Static_assert(sizeof(nvmlMemory_t) == 24, "nvmlMemory_t is 24 bytes");

#define MAX_GPUS 16
#define LIMIT_MW 700000u
#define AMP_W 40.0
#define PERIOD_MS 4000.0

static struct nvmlDevice_st devices[MAX_GPUS];
static pthread_once_t config_once = PTHREAD_ONCE_INIT;
static int init_count = 0; /* nvmlInit_v2 is reference counted, as in the real library */
static unsigned int gpu_count = 4;
static int hang_index = -1;
static double hang_after_ms = 0;
static char release_path[512];
static double spike_start = 0, spike_dur = 0, spike_w = 0;
static int spike_index = 0;
static double t0_ms;

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* Pids of the two processes on device 0; KW_NVML_STUB_PIDS=a[,b] names real ones, for job detection tests. */
static unsigned int process_pids[2] = {4242, 4243};

static void read_config(void) {
  const char *s = getenv("KW_NVML_STUB_GPUS");
  if (s && atoi(s) > 0) gpu_count = (unsigned int)atoi(s) > MAX_GPUS ? MAX_GPUS : (unsigned int)atoi(s);
  for (unsigned int i = 0; i < MAX_GPUS; i++) devices[i].index = i;
  s = getenv("KW_NVML_STUB_HANG");
  if (s && *s) {
    hang_index = atoi(s);
    const char *at = strchr(s, '@');
    if (at) hang_after_ms = atof(at + 1);
  }
  s = getenv("KW_NVML_STUB_HANG_RELEASE");
  if (s) snprintf(release_path, sizeof release_path, "%s", s);
  s = getenv("KW_NVML_STUB_SPIKE_MS");
  if (s && sscanf(s, "%lf:%lf:%lf:%d", &spike_start, &spike_dur, &spike_w, &spike_index) < 3) spike_dur = 0;
  s = getenv("KW_NVML_STUB_PIDS");
  if (s && sscanf(s, "%u,%u", &process_pids[0], &process_pids[1]) < 1) process_pids[0] = 4242;
  t0_ms = now_ms();
}

static double base_w(unsigned int i) { return 150.0 + 120.0 * (i % 5); }
static double phase(unsigned int i) { return 0.7 * i; }
static double omega(void) { return 2.0 * M_PI / PERIOD_MS; }

static double base_power_w(unsigned int i, double t) {
  return base_w(i) + AMP_W * sin(omega() * (t - t0_ms) + phase(i));
}

/* Integral of base_power_w over [a, b] in W*ms = mJ (closed form). */
static double base_energy_mj(unsigned int i, double a, double b) {
  double w = omega();
  return base_w(i) * (b - a) - (AMP_W / w) * (cos(w * (b - t0_ms) + phase(i)) - cos(w * (a - t0_ms) + phase(i)));
}

static int in_spike(unsigned int i, double t) {
  return spike_dur > 0 && (int)i == spike_index && t >= spike_start && t < spike_start + spike_dur;
}

static double power_w(unsigned int i, double t) { return in_spike(i, t) ? spike_w : base_power_w(i, t); }

static double energy_mj(unsigned int i, double t) {
  double e = 1.0e9 * (i + 1) + base_energy_mj(i, t0_ms, t); /* as if the driver ran for a while */
  if (spike_dur > 0 && (int)i == spike_index) {
    double a = fmax(t0_ms, spike_start), b = fmin(t, spike_start + spike_dur);
    if (b > a) e += spike_w * (b - a) - base_energy_mj(i, a, b);
  }
  return e;
}

/* A hung GPU: the call never returns (or returns GPU_IS_LOST once the release file appears). */
static nvmlReturn_t hang(void) {
  for (;;) {
    if (release_path[0] && access(release_path, F_OK) == 0) return NVML_ERROR_GPU_IS_LOST;
    if (release_path[0]) usleep(20000); else pause();
  }
}

static int initialized(void) { return __atomic_load_n(&init_count, __ATOMIC_SEQ_CST) > 0; }

/* Common entry check for every call that takes a device handle. */
#define DEVICE_ENTRY(dev, i)                                                         \
  if (!initialized()) return NVML_ERROR_UNINITIALIZED;                               \
  if (!(dev) || (dev) < devices || (dev) >= devices + gpu_count) return NVML_ERROR_INVALID_ARGUMENT; \
  unsigned int i = (dev)->index;                                                     \
  if ((int)i == hang_index && now_ms() - t0_ms >= hang_after_ms) return hang();

nvmlReturn_t nvmlInit_v2(void) {
  pthread_once(&config_once, read_config);
  __atomic_add_fetch(&init_count, 1, __ATOMIC_SEQ_CST);
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlShutdown(void) {
  if (__atomic_sub_fetch(&init_count, 1, __ATOMIC_SEQ_CST) < 0) {
    __atomic_store_n(&init_count, 0, __ATOMIC_SEQ_CST);
    return NVML_ERROR_UNINITIALIZED;
  }
  return NVML_SUCCESS;
}

const char *nvmlErrorString(nvmlReturn_t result) {
  switch (result) {
    case NVML_SUCCESS: return "Success";
    case NVML_ERROR_UNINITIALIZED: return "Uninitialized";
    case NVML_ERROR_INVALID_ARGUMENT: return "Invalid Argument";
    case NVML_ERROR_NOT_SUPPORTED: return "Not Supported";
    case NVML_ERROR_INSUFFICIENT_SIZE: return "Insufficient Size";
    case NVML_ERROR_GPU_IS_LOST: return "GPU is lost";
    default: return "Unknown Error";
  }
}

nvmlReturn_t nvmlSystemGetDriverVersion(char *version, unsigned int length) {
  if (!initialized()) return NVML_ERROR_UNINITIALIZED;
  if (!version) return NVML_ERROR_INVALID_ARGUMENT;
  if (length < 16) return NVML_ERROR_INSUFFICIENT_SIZE;
  snprintf(version, length, "%s", "999.99.99-kwstub");
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *deviceCount) {
  if (!initialized()) return NVML_ERROR_UNINITIALIZED;
  if (!deviceCount) return NVML_ERROR_INVALID_ARGUMENT;
  *deviceCount = gpu_count;
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t *device) {
  if (!initialized()) return NVML_ERROR_UNINITIALIZED;
  if (!device || index >= gpu_count) return NVML_ERROR_INVALID_ARGUMENT;
  *device = &devices[index];
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t device, char *uuid, unsigned int length) {
  DEVICE_ENTRY(device, i)
  if (!uuid) return NVML_ERROR_INVALID_ARGUMENT;
  if (length < 41) return NVML_ERROR_INSUFFICIENT_SIZE;
  snprintf(uuid, length, "GPU-6b7c1f00-0000-4000-8000-%012u", i);
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t device, char *name, unsigned int length) {
  DEVICE_ENTRY(device, i)
  if (!name) return NVML_ERROR_INVALID_ARGUMENT;
  if (length < 32) return NVML_ERROR_INSUFFICIENT_SIZE;
  snprintf(name, length, "kilowatch NVML stub GPU %u", i);
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetPowerUsage(nvmlDevice_t device, unsigned int *power) {
  DEVICE_ENTRY(device, i)
  if (!power) return NVML_ERROR_INVALID_ARGUMENT;
  *power = (unsigned int)(power_w(i, now_ms()) * 1000.0 + 0.5);
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetTotalEnergyConsumption(nvmlDevice_t device, unsigned long long *energy) {
  DEVICE_ENTRY(device, i)
  if (!energy) return NVML_ERROR_INVALID_ARGUMENT;
  if (i == 3) return NVML_ERROR_NOT_SUPPORTED; /* a pre-Volta board: no counter */
  *energy = (unsigned long long)energy_mj(i, now_ms());
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetFieldValues(nvmlDevice_t device, int valuesCount, nvmlFieldValue_t *values) {
  DEVICE_ENTRY(device, i)
  if (!values || valuesCount <= 0) return NVML_ERROR_INVALID_ARGUMENT;
  double t = now_ms();
  for (int k = 0; k < valuesCount; k++) {
    nvmlFieldValue_t *v = &values[k];
    v->timestamp = (long long)(t * 1000.0);
    v->latencyUsec = 0;
    if (v->fieldId == NVML_FI_DEV_POWER_INSTANT && i != 1) {
      v->valueType = NVML_VALUE_TYPE_UNSIGNED_INT;
      v->value.uiVal = (unsigned int)(power_w(i, t) * 1000.0 + 0.5);
      v->nvmlReturn = NVML_SUCCESS;
    } else {
      v->nvmlReturn = NVML_ERROR_NOT_SUPPORTED; /* per-field status; the call itself succeeds */
    }
  }
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDevice_t device, nvmlUtilization_t *utilization) {
  DEVICE_ENTRY(device, i)
  if (!utilization) return NVML_ERROR_INVALID_ARGUMENT;
  double p = power_w(i, now_ms());
  double u = (p - 100.0) / 6.0;
  utilization->gpu = (unsigned int)(u < 0 ? 0 : u > 100 ? 100 : u + 0.5);
  utilization->memory = utilization->gpu / 2;
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t device, nvmlMemory_t *memory) {
  DEVICE_ENTRY(device, i)
  if (!memory) return NVML_ERROR_INVALID_ARGUMENT;
  memory->total = 81559ULL << 20;
  memory->used = (1024ULL + 512ULL * i) << 20;
  memory->free = memory->total - memory->used;
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetTemperature(nvmlDevice_t device, int sensorType, unsigned int *temp) {
  DEVICE_ENTRY(device, i)
  if (!temp || sensorType != NVML_TEMPERATURE_GPU) return NVML_ERROR_INVALID_ARGUMENT;
  *temp = (unsigned int)(30.0 + power_w(i, now_ms()) / 20.0);
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetClockInfo(nvmlDevice_t device, int type, unsigned int *clock) {
  DEVICE_ENTRY(device, i)
  if (!clock || type < 0 || type > 3) return NVML_ERROR_INVALID_ARGUMENT;
  *clock = type == NVML_CLOCK_SM ? (power_w(i, now_ms()) > 300.0 ? 1980u : 1410u) : 1593u;
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetEnforcedPowerLimit(nvmlDevice_t device, unsigned int *limit) {
  DEVICE_ENTRY(device, i)
  (void)i;
  if (!limit) return NVML_ERROR_INVALID_ARGUMENT;
  *limit = LIMIT_MW;
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetPowerManagementLimitConstraints(nvmlDevice_t device, unsigned int *minLimit, unsigned int *maxLimit) {
  DEVICE_ENTRY(device, i)
  (void)i;
  if (!minLimit || !maxLimit) return NVML_ERROR_INVALID_ARGUMENT;
  *minLimit = 200000u;
  *maxLimit = LIMIT_MW;
  return NVML_SUCCESS;
}

static unsigned long long reasons(unsigned int i) {
  if (i == 2) return REASON_SW_POWER_CAP | REASON_SW_THERMAL;
  return power_w(i, now_ms()) < 200.0 ? REASON_GPU_IDLE : 0;
}

nvmlReturn_t nvmlDeviceGetCurrentClocksEventReasons(nvmlDevice_t device, unsigned long long *clocksEventReasons) {
  DEVICE_ENTRY(device, i)
  if (!clocksEventReasons) return NVML_ERROR_INVALID_ARGUMENT;
  *clocksEventReasons = reasons(i);
  return NVML_SUCCESS;
}

/* The pre-R535 name of the same call; drivers export both. */
nvmlReturn_t nvmlDeviceGetCurrentClocksThrottleReasons(nvmlDevice_t device, unsigned long long *clocksThrottleReasons) {
  DEVICE_ENTRY(device, i)
  if (!clocksThrottleReasons) return NVML_ERROR_INVALID_ARGUMENT;
  *clocksThrottleReasons = reasons(i);
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v3(nvmlDevice_t device, unsigned int *infoCount, nvmlProcessInfo_t *infos) {
  DEVICE_ENTRY(device, i)
  if (!infoCount) return NVML_ERROR_INVALID_ARGUMENT;
  unsigned int n = i == 0 ? 2 : 0;
  if (*infoCount < n) {
    *infoCount = n;
    return NVML_ERROR_INSUFFICIENT_SIZE;
  }
  if (n > 0 && !infos) return NVML_ERROR_INVALID_ARGUMENT;
  for (unsigned int k = 0; k < n; k++) {
    infos[k].pid = process_pids[k];
    /* The second process reports no memory figure, as under WDDM. */
    infos[k].usedGpuMemory = k == 0 ? (1536ULL << 20) : NVML_VALUE_NOT_AVAILABLE_ULL;
    infos[k].gpuInstanceId = 0xFFFFFFFFu;
    infos[k].computeInstanceId = 0xFFFFFFFFu;
  }
  *infoCount = n;
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetMigMode(nvmlDevice_t device, unsigned int *currentMode, unsigned int *pendingMode) {
  DEVICE_ENTRY(device, i)
  if (!currentMode || !pendingMode) return NVML_ERROR_INVALID_ARGUMENT;
  if (i == 3) return NVML_ERROR_NOT_SUPPORTED;
  *currentMode = 0;
  *pendingMode = 0;
  return NVML_SUCCESS;
}
