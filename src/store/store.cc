#include "store/store.h"

namespace parley::store {

std::string_view KindName(ConversationKind kind) {
  switch (kind) {
    case ConversationKind::kDirect:
      return "direct";
    case ConversationKind::kGroup:
      return "group";
    case ConversationKind::kChannel:
      return "channel";
  }
  return "direct";
}

std::optional<ConversationKind> ParseKind(std::string_view name) {
  if (name == "direct") return ConversationKind::kDirect;
  if (name == "group") return ConversationKind::kGroup;
  if (name == "channel") return ConversationKind::kChannel;
  return std::nullopt;
}

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kMember:
      return "member";
    case Role::kAdmin:
      return "admin";
  }
  return "member";
}

std::optional<Role> ParseRole(std::string_view name) {
  if (name == "member") return Role::kMember;
  if (name == "admin") return Role::kAdmin;
  return std::nullopt;
}

}  // namespace parley::store
