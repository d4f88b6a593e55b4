// CRC-32C with the SSE4.2 crc32 instruction, for the log and snapshot checksums (the software
// slicing-by-8 loop in CRC32C.swift was the largest single cost of replaying a log).
#ifndef CTOKENGATECRC_H
#define CTOKENGATECRC_H
#include <stddef.h>
#include <stdint.h>

/// 1 when this CPU has the SSE4.2 crc32 instruction, else 0 (then use the software loop).
int tokengate_crc32c_hardware_available(void);

/// Continues a CRC-32C over `count` bytes at `bytes`. `state` is the running, not yet
/// inverted, value. Call only when tokengate_crc32c_hardware_available() returned 1.
uint32_t tokengate_crc32c_hardware_update(uint32_t state, const uint8_t *bytes, size_t count);

#endif
