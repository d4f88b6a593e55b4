// Hardware CRC-32C. The crc32 instruction computes exactly the reflected Castagnoli CRC step
// the software tables do, 8 bytes at a time; the caller checks for SSE4.2 once at run time.
#include "CTokenGateCRC.h"
#include <string.h>

#if defined(__x86_64__)
#include <nmmintrin.h>

int tokengate_crc32c_hardware_available(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("sse4.2") ? 1 : 0;
}

__attribute__((target("sse4.2")))
uint32_t tokengate_crc32c_hardware_update(uint32_t state, const uint8_t *bytes, size_t count) {
    uint64_t crc = state;
    while (count >= 8) {
        uint64_t word;
        memcpy(&word, bytes, 8);
        crc = _mm_crc32_u64(crc, word);
        bytes += 8;
        count -= 8;
    }
    uint32_t crc32 = (uint32_t)crc;
    while (count > 0) {
        crc32 = _mm_crc32_u8(crc32, *bytes);
        bytes += 1;
        count -= 1;
    }
    return crc32;
}
#else
int tokengate_crc32c_hardware_available(void) { return 0; }

uint32_t tokengate_crc32c_hardware_update(uint32_t state, const uint8_t *bytes, size_t count) {
    (void)bytes;
    (void)count;
    return state;
}
#endif
