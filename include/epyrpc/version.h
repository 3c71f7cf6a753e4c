/*
 * epyrpc: library version and the export macro.
 */
#ifndef EPYRPC_VERSION_H
#define EPYRPC_VERSION_H

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) && defined(EPY_BUILDING_LIBRARY)
#define EPY_API __attribute__((visibility("default")))
#else
#define EPY_API
#endif

/** The version of the headers in use. */
#define EPY_VERSION_MAJOR 0
#define EPY_VERSION_MINOR 1
#define EPY_VERSION_PATCH 0
#define EPY_VERSION_STRING "0.1.0"
#define EPY_VERSION_NUMBER \
    (EPY_VERSION_MAJOR * 10000 + EPY_VERSION_MINOR * 100 + EPY_VERSION_PATCH)

/** The wire protocol version carried in the hello frame. */
#define EPY_PROTOCOL_VERSION 1

/**
 * epy_version - the version of the library linked at run time, as
 * "MAJOR.MINOR.PATCH". Returns a static string.
 * Thread safety: any thread.
 */
EPY_API const char *epy_version(void);

/**
 * epy_version_number - the run-time library version as
 * MAJOR * 10000 + MINOR * 100 + PATCH, to compare with EPY_VERSION_NUMBER.
 * Thread safety: any thread.
 */
EPY_API int epy_version_number(void);

#ifdef __cplusplus
}
#endif

#endif /* EPYRPC_VERSION_H */
