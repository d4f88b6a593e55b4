// malloc_trim is glibc's (malloc.h), which Swift's Glibc module does not show.
#include <malloc.h>
#include "CTokenGateSys.h"

int tokengate_release_free_memory(void) {
    return malloc_trim(0);
}
