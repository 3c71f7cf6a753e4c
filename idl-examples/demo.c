/*
 * The quick start demo. Until the runtime carries calls, it shows what
 * the library reports about itself: its version and status codes.
 */
#include <config.h>

#include <stdio.h>

#include <epyrpc/epyrpc.h>

int
main(void)
{
    static const int codes[] = { EPY_EUNSUPPORTED, EPY_ETIMEDOUT,
                                 EPY_EDISCONNECTED };

    printf("epyrpc %s (protocol %d)\n", epy_version(), EPY_PROTOCOL_VERSION);
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        printf("  %-18s %4d  %s\n", epy_status_name(codes[i]), codes[i],
               epy_strerror(codes[i]));
    return 0;
}
