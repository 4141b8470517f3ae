/* Fuzz the rule of what a reaction's emoji may be. Whatever it accepts is
 * 1 to CHATD_REACTION_EMOJI_MAX bytes of UTF-8 without ASCII control or
 * space characters, NUL included; whatever it refuses comes with a
 * sentence. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <chatd/plugin.h>

#include "rooms/reaction_emoji.h"
#include "utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *why = reaction_emoji_refusal((const char *)data, size);
    if (why) {
        if (!*why)
            abort();
        return 0;
    }
    if (size < 1 || size > CHATD_REACTION_EMOJI_MAX || !utf8_valid(data, size))
        abort();
    for (size_t i = 0; i < size; i++)
        if (data[i] <= 0x20 || data[i] == 0x7f)
            abort();
    return 0;
}
