/* Every struct that crosses the ABI starts with its `size` (SDK 2,
 * "Growth" in plugin.h); the descriptor starts with its two version numbers
 * where every major keeps them, then its size. Compiled as C11 and as C++11
 * by ctest (sdk.abi_layout.*); test_abi.py checks that no struct of the
 * headers is missing here. */
#include <chatd/plugin.h>

#ifdef __cplusplus
#define STATIC_ASSERT static_assert
#else
#define STATIC_ASSERT _Static_assert
#endif

#define STARTS_WITH_SIZE(type)                                                      \
    STATIC_ASSERT(offsetof(struct type, size) == 0, #type " starts with its size"); \
    STATIC_ASSERT(sizeof(((struct type *)0)->size) == sizeof(size_t), #type "'s size is a size_t")

STARTS_WITH_SIZE(chatd_host);
STARTS_WITH_SIZE(chatd_credentials);
STARTS_WITH_SIZE(chatd_identity);
STARTS_WITH_SIZE(chatd_auth_ops);
STARTS_WITH_SIZE(chatd_message);
STARTS_WITH_SIZE(chatd_room);
STARTS_WITH_SIZE(chatd_group_change);
STARTS_WITH_SIZE(chatd_room_filter);
STARTS_WITH_SIZE(chatd_erase_result);
STARTS_WITH_SIZE(chatd_message_edit);
STARTS_WITH_SIZE(chatd_room_transfer);
STARTS_WITH_SIZE(chatd_room_reopen);
STARTS_WITH_SIZE(chatd_reaction_change);
STARTS_WITH_SIZE(chatd_reaction_count);
STARTS_WITH_SIZE(chatd_room_rating);
STARTS_WITH_SIZE(chatd_canned_reply);
STARTS_WITH_SIZE(chatd_message_search);
STARTS_WITH_SIZE(chatd_storage_ops);
STARTS_WITH_SIZE(chatd_broker_ops);
STARTS_WITH_SIZE(chatd_notification);
STARTS_WITH_SIZE(chatd_notify_ops);
STARTS_WITH_SIZE(chatd_file);
STARTS_WITH_SIZE(chatd_files_ops);

STATIC_ASSERT(offsetof(struct chatd_plugin, abi_major) == 0, "the descriptor starts with abi_major");
STATIC_ASSERT(offsetof(struct chatd_plugin, abi_minor) == 4, "then abi_minor");
STATIC_ASSERT(offsetof(struct chatd_plugin, size) == 8, "then its size");

int main(void)
{
    return 0;
}
